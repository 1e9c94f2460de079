"""The RouterDC release through the importer reproduces the data README's table to 0.01."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from avengers.errors import ConfigError, OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes.routerdc import SHA256
from avengers.split import make_splits

pytestmark = pytest.mark.realdata

# ../shared/data/README.md, "Single-model test scores computed from these files".
README_TABLE = {
    "mistralai/Mistral-7B-v0.1": [62.14, 36.71, 43.83, 49.43, 28.98, 24.80, 37.90, 46.43],
    "meta-math/MetaMath-Mistral-7B": [59.86, 69.63, 43.83, 48.30, 29.80, 39.15, 37.74, 45.17],
    "itpossible/Chinese-Mistral-7B-v0.1": [57.42, 41.03, 49.67, 43.47, 21.43, 18.48, 29.64, 48.44],
    "HuggingFaceH4/zephyr-7b-beta": [59.81, 33.00, 42.82, 57.95, 22.04, 20.78, 31.14, 44.87],
    "cognitivecomputations/dolphin-2.6-mistral-7b": [60.53, 52.38, 43.71, 52.56, 45.10, 29.28, 44.86, 45.10],
    "meta-llama/Meta-Llama-3-8B": [64.59, 47.76, 51.77, 49.43, 26.73, 27.67, 43.02, 52.01],
    "cognitivecomputations/dolphin-2.9-llama3-8b": [59.46, 69.81, 44.72, 49.43, 49.39, 39.72, 47.34, 44.80],
}
COLUMNS = ["mmlu", "gsm8k", "cmmlu", "arc_challenge", "humaneval", "math_prealgebra", "mbpp", "ceval"]


def routerdc_cfg(root, **over):
    cfg = OmegaConf.load(__file__.rsplit("/tests/", 1)[0] + "/src/avengers/conf/data/routerdc.yaml")
    cfg.root = str(root)
    cfg.download = False
    for k, v in over.items():
        cfg[k] = v
    return cfg


@pytest.fixture(scope="module")
def table(data_root):
    return load_outcomes(routerdc_cfg(data_root))


def test_single_model_scores_match_readme(table, data_root):
    splits = make_splits(table, routerdc_cfg(data_root), seed=0)
    got = (splits.test.groupby(["model", "benchmark"])["score"].mean() * 100).unstack()
    assert set(got.index) == set(README_TABLE)
    for model, expected in README_TABLE.items():
        for bench, exp in zip(COLUMNS, expected):
            assert got.at[model, bench] == pytest.approx(exp, abs=0.005 + 1e-9), (model, bench)


def test_protocol_keeps_ood_out_of_calibration(table, data_root):
    splits = make_splits(table, routerdc_cfg(data_root), seed=0)
    assert set(splits.calib["benchmark"]) == {"mmlu", "gsm8k", "cmmlu", "arc_challenge", "humaneval"}
    assert {b for b, k in splits.kinds.items() if k == "ood"} == {"math_prealgebra", "mbpp", "ceval"}
    assert splits.calib["query_id"].str.startswith("train-").all()
    assert splits.test["query_id"].str.startswith("test-").all()
    assert splits.calib.groupby("benchmark")["query_id"].nunique().to_dict() == {
        "arc_challenge": 820, "cmmlu": 2000, "gsm8k": 1000, "humaneval": 115, "mmlu": 2000}


def test_checksums_recorded_and_match_the_pinned_release(table):
    assert len(table.files) == 13
    for path, sha in table.files.items():
        stem = path.rsplit("/", 1)[-1][: -len(".json")]
        assert SHA256[stem] == sha


def test_user_can_choose_other_files(data_root):
    # e.g. calibrate on GSM8K only, test on MATH prealgebra as OOD.
    t = load_outcomes(routerdc_cfg(data_root, calibration=["gsm8k-train"], test=["gsm8k-test"], ood_test=["MATH_prealgebra"]))
    assert t.benchmarks == ["gsm8k", "math_prealgebra"]
    with pytest.raises(ConfigError, match="Did you mean 'mmlu_test'"):
        load_outcomes(routerdc_cfg(data_root, test=["mmlu_tset"]))


def test_missing_file_without_download_says_how_to_fix(tmp_path):
    with pytest.raises(OutcomeError, match="AVENGERS_DATA_DIR"):
        load_outcomes(routerdc_cfg(tmp_path))


def test_download_is_checked_against_pinned_hash(tmp_path, monkeypatch, data_root):
    """The download path: a file with the wrong bytes is refused and never cached (no network)."""
    import io

    import avengers.assets.download as download
    import avengers.outcomes.routerdc as rdc

    good = (data_root / "routerdc" / "humaneval_test.json").read_bytes()

    def fake_urlopen(url, timeout):
        assert url.endswith(f"/{rdc.COMMIT}/datasets/split2_model7/humaneval_test.json")
        return io.BytesIO(payload)

    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(download.urllib.request, "urlopen", fake_urlopen)
    cfg = {"root": None, "download": True}
    payload = good[:-2] + b" ]"
    with pytest.raises(OutcomeError, match="expected 3744fba4"):
        rdc.locate("humaneval_test", cfg)
    assert not (rdc.cache_dir() / "humaneval_test.json").exists()
    payload = good
    p = rdc.locate("humaneval_test", cfg)
    assert p == rdc.cache_dir() / "humaneval_test.json" and p.read_bytes() == good
