"""The MoT release (data root `mot_date/`): importer and voting against the release's own numbers.

The data root is `$AVENGERS_DATA_DIR`, else `../shared/data` next to the checkout. When
AVENGERS_DATA_DIR is set the files must be there (these tests then fail, never skip); when it
is not set and the default folder is absent (a bare checkout) they skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from avengers.errors import OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes.mot import DEFAULT_FILES, RELEASE, load_mot
from avengers.outcomes.schema import validate
from avengers.vote.ensemble import build_strategy, samples_by_query, vote_outcomes
from avengers.answers import pipeline_for
from avengers.answers.normalize import NORMALIZERS

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.realdata

# Exact-match accuracy of the release's own `prediction` (data README) ...
EXACT_ACC = {"gpt-3.5-turbo": 64.50, "gpt-4": 88.62, "llama-2-13b": 57.72}
# ... and of the same majority vote when answers are compared as dates (5/1/2021 == 05/01/2021,
# "April 30, 2020" == 04/30/2020): data.benchmark=bbh_date_understanding, whose answer pipeline
# compares dates both when grading and when voting.
DATE_ACC = {"gpt-3.5-turbo": 75.34, "gpt-4": 88.89, "llama-2-13b": 62.60}


def data_root() -> Path:
    """The real-data root; skips only when AVENGERS_DATA_DIR is unset and the default is absent."""
    env = os.environ.get("AVENGERS_DATA_DIR")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    if not env and not (root / "mot_date").is_dir():
        pytest.skip(f"no real data at {root} (set AVENGERS_DATA_DIR to run these)")
    missing = [f for f in DEFAULT_FILES.values() if not (root / "mot_date" / f).is_file()]
    assert not missing, f"AVENGERS_DATA_DIR={root}: MoT files {missing} are missing under {root / 'mot_date'}"
    return root


@pytest.fixture(scope="module")
def root() -> Path:
    return data_root()


@pytest.fixture(scope="module")
def release(root) -> dict[str, list[dict]]:
    return {m: json.loads((root / "mot_date" / f).read_text()) for m, f in DEFAULT_FILES.items()}


def _cfg(root: Path, **kw):
    return {"source": "mot", "root": str(root), "download": False, **kw}


def by_pipeline(benchmark):
    """The normaliser the voter uses for a benchmark (its answer pipeline's)."""
    return pipeline_for(benchmark).normalize


@pytest.fixture(scope="module")
def exact_table(root):
    # `date`, the release's own task name, has no answer pipeline: byte-for-byte, the release's rule
    return load_outcomes(_cfg(root, benchmark="date"))


@pytest.fixture(scope="module")
def date_table(root):
    return validate(load_mot(_cfg(root)).df)  # default benchmark bbh_date_understanding


def test_table_shape_and_provenance(exact_table, root):
    df = exact_table.df
    assert exact_table.source == "mot"
    assert exact_table.models == ["gpt-3.5-turbo", "gpt-4", "llama-2-13b"]
    assert exact_table.benchmarks == ["date"]
    assert len(df) == 369 * (20 + 3 + 20)
    assert df.groupby("model")["sample"].max().to_dict() == {"gpt-3.5-turbo": 19, "gpt-4": 2, "llama-2-13b": 19}
    qids = sorted(df["query_id"].unique())
    assert qids[0] == "000" and qids[-1] == "368" and len(qids) == 369
    assert df["split"].isna().all() and df["cost"].isna().all()
    assert df["answer"].notna().all() and exact_table.has_answers
    assert dict(exact_table.files) == {
        str(root / "mot_date" / f): RELEASE[f][1] for f in DEFAULT_FILES.values()
    }


def test_answers_are_raw_and_scores_per_sample(exact_table, release):
    df = exact_table.df.set_index(["model", "query_id", "sample"])
    rec = release["llama-2-13b"][0]
    assert rec["results"][1] == "5/1/2021"
    row = df.loc[("llama-2-13b", "000", 1)]
    assert row["answer"] == "5/1/2021" and row["score"] == 0.0  # exact: not the gold 05/01/2021
    assert df.loc[("llama-2-13b", "000", 2), "score"] == 1.0
    assert df.loc[("gpt-3.5-turbo", "000", 0), "query"] == rec["question"]


@pytest.mark.parametrize("model", list(DEFAULT_FILES))
def test_self_consistency_reproduces_release_prediction_and_accuracy(exact_table, release, model):
    df = exact_table.df
    out = vote_outcomes(df[df.model == model], build_strategy("self_consistency"), [model], by_pipeline)
    preds = [r["prediction"] for r in release[model]]
    assert len(out) == 369
    assert (out["answer"].tolist() == preds), "the vote must equal the release's prediction on every query"
    assert not out["expected"].any()
    acc = 100 * out["score"].mean()
    print(f"\n[MoT exact] {model}: {acc:.2f}")
    assert acc == pytest.approx(EXACT_ACC[model], abs=0.01)


@pytest.mark.parametrize("model", list(DEFAULT_FILES))
def test_self_consistency_with_date_normaliser(date_table, model):
    df = date_table
    out = vote_outcomes(df[df.model == model], build_strategy("self_consistency"), [model], by_pipeline)
    acc = 100 * out["score"].mean()
    print(f"\n[MoT date] {model}: {acc:.2f}")
    assert acc == pytest.approx(DATE_ACC[model], abs=0.01)


def test_grades_and_votes_share_the_pipeline(date_table, exact_table):
    """Samples that vote together (same date) always carry the same grade, so the vote never
    meets conflicting grades; byte-for-byte grading keeps 5/1/2021 apart from 05/01/2021."""
    norm = pipeline_for("bbh_date_understanding").normalize
    keys = date_table.assign(key=date_table["answer"].map(lambda a: None if a is None else norm(a)))
    spread = keys.dropna(subset=["key"]).groupby(["query_id", "key"])["score"].nunique()
    assert (spread == 1).all()
    ex = exact_table.df.set_index(["model", "query_id", "sample"])
    dt = date_table.set_index(["model", "query_id", "sample"])
    assert ex.loc[("llama-2-13b", "000", 1), "score"] == 0.0 and dt.loc[("llama-2-13b", "000", 1), "score"] == 1.0


def test_date_votes_on_exact_grades_take_the_majority_grade(exact_table):
    """Exact grades, date normaliser: `5/1/2021` (graded wrong) and `05/01/2021` (right) merge.
    The vote no longer raises: the merged answer counts, scored by its samples' majority grade."""
    df = exact_table.df
    sub = df[df.model == "llama-2-13b"]
    date = NORMALIZERS.get("date")
    out = vote_outcomes(sub, build_strategy("self_consistency"), ["llama-2-13b"], lambda b: date)
    assert len(out) == 369 and out["grade_conflict"].sum() > 0
    # Recompute query 000 by hand from the rows: the winning answer's grades, majority.
    rows = sub[sub.query_id == "000"].sort_values("sample")
    won = out.set_index("query_id").loc["000"]
    assert won["answer"] == "05/01/2021" and won["grade_conflict"]
    grades = [s for a, s in zip(rows["answer"], rows["score"]) if a is not None and date(a) == won["answer"]]
    assert len(set(grades)) == 2
    majority = max(set(grades), key=lambda g: (grades.count(g), -grades.index(g)))
    assert won["score"] == majority


def test_strategies_on_real_data(exact_table):
    """Routing everything to gpt-3.5-turbo first, then gpt-4: every strategy runs, and the
    oracle bounds the deployable ones on the same models."""
    df = exact_table.df
    norm = by_pipeline  # `date`: byte for byte
    ranked = ["gpt-3.5-turbo", "gpt-4", "llama-2-13b"]
    acc = {}
    for name, kw in [
        ("direct", {}),
        ("self_consistency", {}),
        ("self_consistency", {"n_samples": 3}),
        ("multi_model", {"n_models": 2}),
        ("model_switch", {"threshold": 0.5, "max_models": 2}),
        ("model_switch", {"threshold": 0.8, "max_models": 2, "pool": False}),
        ("oracle", {"n_models": 1}),
        ("oracle", {"n_models": 2}),
    ]:
        out = vote_outcomes(df, build_strategy(name, **kw), ranked, norm)
        assert not out["expected"].any()
        acc[(name, tuple(sorted(kw.items())))] = 100 * out["score"].mean()
    print("\n[MoT strategies, ranked gpt-3.5 > gpt-4 > llama]", {f"{k[0]}{dict(k[1])}": round(float(v), 2) for k, v in acc.items()})
    sc = acc[("self_consistency", ())]
    assert sc == pytest.approx(EXACT_ACC["gpt-3.5-turbo"], abs=0.01)
    assert acc[("oracle", (("n_models", 1),))] >= sc
    assert acc[("oracle", (("n_models", 2),))] >= max(acc[k] for k in acc if k[0] != "oracle")
    # a cascade to gpt-4 on low agreement beats gpt-3.5 alone
    assert acc[("model_switch", (("max_models", 2), ("pool", False), ("threshold", 0.8)))] > sc


def test_sample_order_is_release_order(exact_table, release):
    by_q = samples_by_query(exact_table.df)
    for model, rows in release.items():
        for i in (0, 100, 368):
            assert [s.answer for s in by_q[("date", f"{i:03d}")][model]] == rows[i]["results"]


def test_hydra_config_loads(root, tmp_path):
    from tests.support import compose_cfg

    cfg = compose_cfg(["data=mot_date"], cache=tmp_path, data_root=root)  # data/_base.yaml + mot_date.yaml
    data = OmegaConf.to_container(cfg.data, resolve=True)
    assert data["source"] == "mot" and data["benchmark"] == "bbh_date_understanding" and data["test_size"] == 0.3
    assert "score_normalizer" not in data
    t = load_outcomes(data)
    assert len(t.df) == 369 * 43
    # the DictConfig itself works too (cfg.get, nested files mapping)
    assert len(load_mot(cfg.data).df) == 369 * 43


def test_mismatched_files_are_an_error(root, tmp_path):
    sub = tmp_path / "mot_date"
    sub.mkdir()
    gpt4 = json.loads((root / "mot_date" / "GPT4_date_cot1.json").read_text())
    (sub / "a.json").write_text(json.dumps(gpt4[:5]))
    swapped = [gpt4[1], gpt4[0], *gpt4[2:5]]
    (sub / "b.json").write_text(json.dumps(swapped))
    (sub / "c.json").write_text(json.dumps(gpt4[:4]))
    with pytest.raises(OutcomeError, match="disagree at position 0"):
        load_mot({"root": str(tmp_path), "files": {"x": "a.json", "y": "b.json"}})
    with pytest.raises(OutcomeError, match="has 4 questions"):
        load_mot({"root": str(tmp_path), "files": {"x": "a.json", "y": "c.json"}})
    ok = load_mot({"root": str(tmp_path), "files": {"x": "a.json", "y": "a.json"}, "benchmark": "date"})
    assert set(ok.df["benchmark"]) == {"date"} and sorted(ok.df["query_id"].unique()) == ["0", "1", "2", "3", "4"]


def test_data_root_fails_instead_of_skipping_when_env_points_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("AVENGERS_DATA_DIR", str(tmp_path))
    with pytest.raises(AssertionError, match="missing"):
        data_root()
