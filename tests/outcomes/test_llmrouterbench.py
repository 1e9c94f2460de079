"""LLMRouterBench importer on small releases built here to the spec (released_data.md §1, §4)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import re
import tarfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avengers.errors import ConfigError, OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes import llmrouterbench as lrb

MODELS = ["Model-A", "model-b", "M-C"]


def _rec(index, prompt, score, *, origin=None, cost=0.001, pt=10, ct=20, prediction="x"):
    return {
        "index": index,
        "origin_query": origin if origin is not None else f"Q: {prompt}",
        "prompt": prompt,
        "prompt_tokens": pt,
        "completion_tokens": ct,
        "cost": cost,
        "score": score,
        "prediction": prediction,
        "ground_truth": "x",
        "raw_output": "...",
        "extra_fields": {},
    }


def _write(path: Path, dataset: str, split: str, model: str, records: list[dict], *, demo: bool | None = False) -> None:
    head = {
        "performance": 0.5, "time_taken": 1.0, "prompt_tokens": 0, "completion_tokens": 0,
        "cost": 123.0,  # a wrong file total, as in the ArenaHard category exports: never used
        "counts": len(records), "model_name": model, "dataset_name": dataset, "split": split,
    }
    if demo is not None:  # the key is absent from some released files
        head["demo"] = demo
    head.update({"extra_metrics": {}, "data_fingerprint": "", "records": records})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(head, indent=2, ensure_ascii=False), encoding="utf-8")


def _std(root: Path, dataset: str, split: str, model: str, records, stamp="20250102_030405", *, folder_model=None,
         split_folder=True, **kw) -> None:
    parts = [dataset] + ([split] if split_folder else []) + [folder_model or model]
    _write(root.joinpath(*parts) / f"{dataset}-{split}-{folder_model or model}-{stamp}.json", dataset, split, model, records, **kw)


AIME = [f"Solve problem {i}. Put the answer in \\boxed{{}}." for i in range(1, 5)]
AIME_SCORES = {"Model-A": [1, 0, 1, 1], "model-b": [0, 0, 1, 0], "M-C": [1, 1, 1, 0]}
ARENA = [f"Write a poem about {t}" for t in ("rain", "code", "cats")]
ARENA_SCORES = {"Model-A": [0.5, 1, 0], "model-b": [1, 0.5, 0.5], "M-C": [0, 0, 1]}
GPQA = ["GPQA question alpha", "GPQA question beta"]


def build_release(root: Path, *, full: bool = False) -> Path:
    """A release folder. Simple: complete (aime, arenahard, gpqa). Full adds mmlupro with two
    overlapping splits, simpleqa with a null score / negative tokens / an empty prompt, and
    arenahard_coding (a category export)."""
    for m in MODELS:
        recs = [_rec(i + 1, p, s, cost=(0.0 if (m == "Model-A" and i == 1) else 0.001 * (i + 1)), prediction=str(i))
                for i, (p, s) in enumerate(zip(AIME, AIME_SCORES[m]))]
        _std(root, "aime", "hybrid", m, recs)
        # ArenaHard: no split folder, 0-based indices, predictions are chat messages.
        arena = [_rec(i, p, s, prediction=[{"role": "user", "content": p}, {"role": "assistant", "content": {"answer": "ok"}}])
                 for i, (p, s) in enumerate(zip(ARENA, ARENA_SCORES[m]))]
        _std(root, "arenahard", "test", m, arena, stamp="20250101_000000", split_folder=False, demo=None)
        folder = "wrong-folder" if m == "model-b" else None  # the path disagrees with the header
        _std(root, "gpqa", "test", m, [_rec(1, GPQA[0], 1), _rec(2, GPQA[1], 0)], folder_model=folder)
    # An older run of Model-A (loses) and a newer demo run (skipped, so it does not win either).
    _std(root, "aime", "hybrid", "Model-A", [_rec(i + 1, p, 0) for i, p in enumerate(AIME)], stamp="20240101_000000")
    _std(root, "aime", "hybrid", "Model-A", [_rec(1, AIME[0], 0)], stamp="20260101_000000", demo=True)
    # A demo file of a dataset nobody else has.
    _std(root, "simpleqa", "subset_500", "Model-A", [_rec(1, "demo only", 1)], demo=True)
    (root / "README.json").write_text('{"note": "not a result file"}')
    if full:
        mm = ["MMLU-Pro q1", "MMLU-Pro q2", "MMLU-Pro q1"]  # q1 twice (indices 1 and 3)
        for m in MODELS:
            s = MODELS.index(m) % 2
            _std(root, "mmlupro", "test_1000", m, [_rec(1, mm[0], s, prediction="first"), _rec(2, mm[1], 1),
                                                    _rec(3, mm[2], 1 - s, prediction="last")])
            _std(root, "mmlupro", "test_3000", m, [_rec(1, "MMLU-Pro q1", 1), _rec(2, "MMLU-Pro q9", 0)])
            sq = [_rec(1, "Who wrote X?", 1), _rec(2, "Who wrote Y?", 0), _rec(3, "Who wrote Z?", 1)]
            if m == "M-C":
                sq[1]["score"] = None  # not gradable
            if m == "Model-A":
                sq[0]["completion_tokens"] = -5  # quarantined
            if m == "model-b":
                sq[2].update(prompt="", score=None, prompt_tokens=0, completion_tokens=0, cost=0.0,
                             raw_output="Processing failed: boom")
            _std(root, "simpleqa", "test", m, sq)
            _std(root, "arenahard_coding", "test", m, [_rec(0, ARENA[1], 1)], split_folder=False)
    return root


def cfg(path, **kw):
    base = {"source": "llmrouterbench", "path": str(path), "missing": "error"}
    base.update(kw)
    return base


@pytest.fixture
def simple(tmp_path):
    return build_release(tmp_path / "bench-release")


@pytest.fixture
def full(tmp_path):
    return build_release(tmp_path / "bench-release", full=True)


def _tar(folder: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as t:
        t.add(folder, arcname=folder.name)
    return out


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- basics


def test_minimal_config_returns_validated_table(simple):
    t = load_outcomes({"source": "llmrouterbench", "path": str(simple), "missing": "error"})
    assert t.source == "llmrouterbench"
    assert t.benchmarks == ["aime", "arenahard", "gpqa"]
    assert t.models == sorted(MODELS)
    df = t.df
    assert len(df) == 3 * (4 + 3 + 2)
    assert (df["sample"] == 0).all() and df["split"].isna().all()
    assert list(df.columns) == ["benchmark", "query_id", "query", "model", "sample", "score", "answer", "cost", "split"]
    # provenance: the 9 selected files (not the older run, the demo files or README.json)
    assert len(t.files) == 9 and all(re.search(r"-\d{8}_\d{6}\.json$", f) for f in t.files)
    assert not any("2024" in Path(f).name or "2026" in Path(f).name for f in t.files)
    for f, h in t.files.items():
        assert h == _sha(Path(f))


def test_newest_file_wins_and_demo_never_counts(simple):
    df = load_outcomes(cfg(simple)).df
    a = df[(df.benchmark == "aime") & (df.model == "Model-A")].sort_values("query_id")
    assert a["score"].tolist() == [1.0, 0.0, 1.0, 1.0]  # the 2025 run, not 2024 (all 0) nor the 2026 demo
    assert "simpleqa" not in set(df.benchmark)  # its only file is a demo


def test_identity_from_header_not_path(simple):
    df = load_outcomes(cfg(simple)).df
    g = df[df.benchmark == "gpqa"]
    assert set(g.model) == set(MODELS) and "wrong-folder" not in set(df.model)


def test_arenahard_without_split_folder(simple):
    df = load_outcomes(cfg(simple)).df
    a = df[df.benchmark == "arenahard"]
    assert len(a) == 9 and set(a.score) == {0.0, 0.5, 1.0}
    ans = json.loads(a.iloc[0]["answer"])
    assert ans[1]["role"] == "assistant"
    rain = a[(a.model == "model-b") & (a["query"] == ARENA[0])]
    assert rain["score"].item() == 1.0


def test_query_id_is_join_key_of_prompt(simple):
    df = load_outcomes(cfg(simple)).df
    a = df[df.benchmark == "aime"]
    assert a.groupby("query_id")["model"].nunique().eq(3).all()
    p = AIME[2]
    want = f"00003-{hashlib.sha256(p.encode()).hexdigest()[:10]}"
    assert set(a.loc[a["query"] == p, "query_id"]) == {want}
    arena = df[df.benchmark == "arenahard"]
    assert set(arena.loc[arena["query"] == ARENA[0], "query_id"]) == {f"00000-{hashlib.sha256(ARENA[0].encode()).hexdigest()[:10]}"}
    # the id does not depend on which models are loaded
    one = load_outcomes(cfg(simple, models=["M-C"])).df
    assert set(one[one.benchmark == "aime"].query_id) == set(a.query_id)


def test_query_field_origin_query(simple):
    df = load_outcomes(cfg(simple, query_field="origin_query")).df
    assert set(df[df.benchmark == "aime"]["query"]) == {f"Q: {p}" for p in AIME}
    with pytest.raises(ConfigError, match="query_field"):
        load_outcomes(cfg(simple, query_field="question"))


def test_cost_per_record_and_zero_cost_unknown(simple):
    df = load_outcomes(cfg(simple)).df
    a = df[(df.benchmark == "aime") & (df.model == "Model-A")].set_index("query")
    assert np.isnan(a.loc[AIME[1], "cost"])  # cost 0.0: not priced
    assert a.loc[AIME[0], "cost"] == pytest.approx(0.001)  # per record, not the file's 123.0
    z = load_outcomes(cfg(simple, zero_cost="zero")).df
    z = z[(z.benchmark == "aime") & (z.model == "Model-A")].set_index("query")
    assert z.loc[AIME[1], "cost"] == 0.0


def test_answer_is_string(simple):
    df = load_outcomes(cfg(simple)).df
    a = df[(df.benchmark == "aime") & (df.model == "M-C")].set_index("query")
    assert a.loc[AIME[3], "answer"] == "3"


def test_datasets_and_models_whitelists(simple):
    df = load_outcomes(cfg(simple, datasets=["gpqa", "aime"], models=["Model-A", "M-C"])).df
    assert set(df.benchmark) == {"aime", "gpqa"} and set(df.model) == {"Model-A", "M-C"}


def test_unknown_whitelist_name_is_an_error(simple):
    with pytest.raises(ConfigError, match=r"'model-a'.*Did you mean .*'Model-A'"):
        load_outcomes(cfg(simple, models=["model-a"]))
    with pytest.raises(ConfigError, match="aimee"):
        load_outcomes(cfg(simple, datasets=["aimee"]))
    with pytest.raises(ConfigError, match="hybrid"):
        load_outcomes(cfg(simple, splits={"aime": "test"}))
    # a dataset that exists but has no file left after the other filters
    with pytest.raises(ConfigError, match=r"\['aime'\].*none of their result files"):
        load_outcomes(cfg(simple, datasets=["aime", "gpqa"], splits=["test"]))
    # a split mapping for a dataset that is not selected is not checked
    assert len(load_outcomes(cfg(simple, datasets=["gpqa"], splits={"aime": "test"})).df) == 6


def test_non_result_json_is_reported(simple, caplog):
    with caplog.at_level(logging.WARNING):
        load_outcomes(cfg(simple))
    assert "README.json" in caplog.text


def test_results_bench_layout_and_relative_path(tmp_path):
    root = build_release(tmp_path / "results" / "bench")
    a = load_outcomes(cfg(root)).df
    b = load_outcomes(cfg("results/bench", root=str(tmp_path))).df
    pd.testing.assert_frame_equal(a, b)


def test_missing_path_is_a_config_error():
    with pytest.raises(ConfigError, match="bench-release.tar.gz"):
        load_outcomes({"source": "llmrouterbench", "path": "???"})


def test_no_result_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(OutcomeError, match="no \\*.json"):
        load_outcomes(cfg(tmp_path / "empty"))


def test_tied_newest_files_are_an_error(simple):
    src = next((simple / "gpqa" / "test" / "M-C").glob("*.json"))
    dst = simple / "gpqa" / "copy" / src.name
    dst.parent.mkdir()
    dst.write_text(src.read_text())
    with pytest.raises(OutcomeError, match="same newest timestamp"):
        load_outcomes(cfg(simple))


def test_mtime_fallback_for_files_without_timestamp(simple):
    import os

    legacy = simple / "aime" / "hybrid" / "Model-A" / "result.json"
    _write(legacy, "aime", "hybrid", "Model-A", [_rec(i + 1, p, 0) for i, p in enumerate(AIME)])
    os.utime(legacy, (2_000_000_000, 2_000_000_000))  # a timestamped name always beats an mtime, as in LRB
    df = load_outcomes(cfg(simple)).df
    assert df[(df.benchmark == "aime") & (df.model == "Model-A")]["score"].sum() == 3.0


# ----------------------------------------------------------------------------- tarball


def test_tarball_wrong_checksum_is_a_clear_error(simple, tmp_path):
    tar = _tar(simple, tmp_path / "bench-release.tar.gz")
    with pytest.raises(OutcomeError) as e:
        load_outcomes(cfg(tar))
    msg = str(e.value)
    assert lrb.RELEASE_SHA256 in msg and _sha(tar) in msg and "data.sha256=" in msg
    with pytest.raises(OutcomeError, match="data.sha256"):
        load_outcomes(cfg(tar, sha256="0" * 64))


def test_tarball_with_right_checksum_equals_folder(full, tmp_path):
    tar = _tar(full, tmp_path / "bench-release.tar.gz")
    opts = dict(missing="drop_query", splits={"mmlupro": "test_1000"}, datasets=["aime", "arenahard", "gpqa", "mmlupro", "simpleqa"],
                split_protocol="llmrouterbench")
    t = load_outcomes(cfg(tar, sha256=_sha(tar), **opts))
    f = load_outcomes(cfg(full, **opts))
    pd.testing.assert_frame_equal(t.df, f.df)
    assert dict(t.files) == {str(tar): _sha(tar)}


# ----------------------------------------------------------------------------- full release: overlaps, nulls, quarantine


def test_overlapping_splits_are_an_error(full):
    with pytest.raises(ConfigError, match=r"mmlupro.*\['test_1000', 'test_3000'\].*data.splits.*allow_multiple_splits"):
        load_outcomes(cfg(full, datasets=["mmlupro"]))


def test_splits_mapping_chooses_one(full):
    df = load_outcomes(cfg(full, datasets=["mmlupro"], splits={"mmlupro": "test_3000"})).df
    assert set(df.benchmark) == {"mmlupro"} and set(df["query"]) == {"MMLU-Pro q1", "MMLU-Pro q9"}
    # a list of accepted labels for the 1,000-question subset (test_1000 in the archive, test in LRB's config)
    df = load_outcomes(cfg(full, datasets=["mmlupro"], splits={"mmlupro": ["test_1000", "test"]})).df
    assert set(df["query"]) == {"MMLU-Pro q1", "MMLU-Pro q2"}


def test_allow_multiple_splits_keeps_them_apart(full):
    df = load_outcomes(cfg(full, datasets=["mmlupro"], allow_multiple_splits=True)).df
    assert set(df.benchmark) == {"mmlupro/test_1000", "mmlupro/test_3000"}
    q1 = df[df["query"] == "MMLU-Pro q1"]
    assert set(q1.benchmark) == {"mmlupro/test_1000", "mmlupro/test_3000"}


def test_arenahard_category_exports_are_not_mixed_silently(full):
    with pytest.raises(ConfigError, match="arenahard_coding"):
        load_outcomes(cfg(full, datasets=["arenahard", "arenahard_coding"]))
    df = load_outcomes(cfg(full, datasets=["arenahard", "arenahard_coding"], allow_multiple_splits=True)).df
    assert {"arenahard", "arenahard_coding"} <= set(df.benchmark)


def test_duplicate_prompt_in_one_file(full, caplog):
    c = cfg(full, datasets=["mmlupro"], splits={"mmlupro": "test_1000"})
    with caplog.at_level(logging.WARNING):
        last = load_outcomes(c).df
    assert "repeat a prompt" in caplog.text
    assert len(last) == 2 * 3
    q1 = last[last["query"] == "MMLU-Pro q1"]
    assert set(q1["answer"]) == {"last"}
    assert q1.set_index("model")["score"].to_dict() == {m: float(1 - MODELS.index(m) % 2) for m in MODELS}
    # the id is the smallest index of the prompt
    assert set(q1["query_id"]) == {f"00001-{hashlib.sha256(b'MMLU-Pro q1').hexdigest()[:10]}"}
    first = load_outcomes({**c, "duplicate_prompts": "first"}).df
    assert set(first.loc[first["query"] == "MMLU-Pro q1", "answer"]) == {"first"}
    with pytest.raises(OutcomeError, match="duplicate_prompts"):
        load_outcomes({**c, "duplicate_prompts": "error"})


def test_null_score_is_a_missing_outcome_by_default(full):
    c = cfg(full, datasets=["simpleqa"])
    with pytest.raises(OutcomeError, match="data.missing"):
        load_outcomes(c)
    dropped = load_outcomes({**c, "missing": "drop_query"})
    assert set(dropped.df["query"]) == {"Who wrote X?"}  # Y: null score of M-C; Z: empty prompt of model-b
    assert dropped.dropped_queries == {"simpleqa": 2}
    zero = load_outcomes({**c, "missing": "zero"}).df
    y = zero[zero["query"] == "Who wrote Y?"].set_index("model")["score"]
    assert y["M-C"] == 0.0 and np.isnan(zero[(zero["query"] == "Who wrote Y?") & (zero.model == "M-C")]["cost"].item())


def test_null_score_zero_is_lrb_loader(full):
    df = load_outcomes(cfg(full, datasets=["simpleqa"], null_score="zero", missing="drop_query")).df
    y = df[df["query"] == "Who wrote Y?"].set_index("model")["score"]
    assert y.to_dict() == {"Model-A": 0.0, "model-b": 0.0, "M-C": 0.0}


def test_negative_tokens_and_empty_prompt_are_quarantined(full, caplog):
    c = cfg(full, datasets=["simpleqa"], missing="drop_query")
    rel = lrb.read_release(c)
    with caplog.at_level(logging.WARNING):
        conv = lrb.to_canonical(rel, c)
    q = conv.quarantine
    assert set(q.reason) == {"negative token count", "empty prompt (failed before prompting)"}
    neg = q[q.reason == "negative token count"].iloc[0]
    assert (neg.dataset, neg.split, neg.model, neg["index"]) == ("simpleqa", "test", "Model-A", 1)
    empty = q[q.reason.str.startswith("empty")].iloc[0]
    assert (empty.model, empty["index"]) == ("model-b", 3)
    assert "quarantined 2 record(s)" in caplog.text
    df = conv.df
    x = df[(df["query"] == "Who wrote X?") & (df.model == "Model-A")]
    assert x["score"].item() == 1.0 and np.isnan(x["cost"].item())  # score kept, cost not used
    assert not (df["query"] == "").any()


# ----------------------------------------------------------------------------- LRB split protocol


def lrb_reference(root: Path, datasets, models, splits, train_ratio, seed, ood):
    """A literal transcription of LRB baselines/data_loader.py (find files, load, split), for comparison."""
    files = []
    for f in root.rglob("*.json"):
        d = json.loads(f.read_text())
        if "dataset_name" not in d:
            continue
        if d.get("demo", False) or d["dataset_name"] not in datasets or d["model_name"] not in models:
            continue
        if splits is not None and d["split"] not in splits:
            continue
        files.append(f)
    grouped = defaultdict(list)
    for f in files:
        d = json.loads(f.read_text())
        grouped[(d["dataset_name"], d["split"], d["model_name"])].append(f)

    def ts(p):
        m = re.search(r"(\d{8})_(\d{6})\.json$", p.name)
        return int(m.group(1) + m.group(2)) if m else int(p.stat().st_mtime)

    records = []
    for f in sorted(max(v, key=ts) for v in grouped.values()):
        d = json.loads(f.read_text())
        for r in d["records"]:
            p = r.get("prompt", "")
            records.append((d["dataset_name"], "" if p is None else str(p), r["index"]))
    random.seed(seed)
    ds_groups = defaultdict(list)
    for rec in records:
        ds_groups[rec[0]].append(rec)
    out = {}
    for ds, recs in ds_groups.items():
        if ds in ood:
            for r in recs:
                out[(ds, r[1])] = "test"
            continue
        p2r = defaultdict(list)
        for r in recs:
            p2r[r[1]].append(r)
        prompts = list(p2r.keys())
        prompts.sort(key=lambda p: min(r[2] for r in p2r[p]))
        n_train = int(len(prompts) * train_ratio)
        idx = list(range(len(prompts)))
        random.shuffle(idx)
        tr = set(idx[:n_train])
        for i, p in enumerate(prompts):
            out[(ds, p)] = "train" if i in tr else "test"
    return out


def test_python_random_reference_values():
    rng = random.Random(42)
    order = list(range(10))
    rng.shuffle(order)
    assert order == [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]  # same stream as random.seed(42); random.shuffle


def test_lrb_split_single_dataset_hand_computed(tmp_path):
    root = tmp_path / "bench-release"
    prompts = [f"prompt {i}" for i in range(10)]
    for m in MODELS:  # files written in reverse index order: the prompt order comes from the index
        _std(root, "bbh", "test", m, [_rec(i + 1, prompts[i], 1) for i in reversed(range(10))])
    df = load_outcomes(cfg(root, split_protocol="llmrouterbench", test_size=0.3, split_seed=42)).df
    got = df.drop_duplicates("query").set_index("query")["split"]
    train = {prompts[i] for i in (7, 3, 2, 8, 5, 6, 9)}
    assert {p for p in prompts if got[p] == "train"} == train
    assert (df.groupby("query_id")["split"].nunique() == 1).all()


@pytest.mark.parametrize("seed", [42, 3407])
def test_lrb_split_matches_reference(full, seed):
    datasets = ["aime", "arenahard", "gpqa", "mmlupro", "simpleqa"]
    c = cfg(full, datasets=datasets, splits={"mmlupro": "test_1000"}, missing="zero", null_score="zero",
            split_protocol="llmrouterbench", split_seed=seed, train_ratio=0.5, ood=["gpqa"])
    df = load_outcomes(c).df
    ref = lrb_reference(full, datasets, MODELS, {"hybrid", "test", "test_1000"}, 0.5, seed, ood={"gpqa"})
    got = {(b, q): s for b, q, s in zip(df.benchmark, df["query"], df["split"])}
    assert got == {k: v for k, v in ref.items() if k[1] != ""}  # the empty prompt gives no row
    assert set(df.loc[df.benchmark == "gpqa", "split"]) == {"test"}
    assert set(df["split"]) == {"train", "test"}


def test_lrb_split_across_splits_groups_by_dataset(full):
    """With allow_multiple_splits, LRB groups prompts per dataset across splits (indices collide)."""
    c = cfg(full, datasets=["mmlupro"], allow_multiple_splits=True, split_protocol="llmrouterbench",
            train_ratio=0.5, split_seed=7)
    df = load_outcomes(c).df
    ref = lrb_reference(full, ["mmlupro"], MODELS, None, 0.5, 7, set())
    got = {q: s for q, s in zip(df["query"], df["split"])}
    assert got == {p: s for (_, p), s in ref.items()}
    # one prompt in both splits gets one assignment
    assert df[df["query"] == "MMLU-Pro q1"]["split"].nunique() == 1


def test_split_by_dataset_then_prompt_tie_order():
    """Prompts with equal smallest index keep first-seen order (stable sort)."""
    recs = pd.DataFrame({"dataset": ["d"] * 4, "prompt": ["b", "a", "c", "a"], "index": [1, 1, 0, 2]})
    got = lrb.split_by_dataset_then_prompt(recs, 0.5, 1)
    # order: c (0), b (1, seen first), a (1)
    rng = random.Random(1)
    order = list(range(3))
    rng.shuffle(order)
    train = set(order[:1])
    want = {("d", p): ("train" if i in train else "test") for i, p in enumerate(["c", "b", "a"])}
    assert got == want


def test_bad_option_values(simple):
    with pytest.raises(ConfigError, match="split_protocol"):
        load_outcomes(cfg(simple, split_protocol="lrb"))
    with pytest.raises(ConfigError, match="train_ratio"):
        load_outcomes(cfg(simple, split_protocol="llmrouterbench", train_ratio=1.5))
    with pytest.raises(ConfigError, match="null_score"):
        load_outcomes(cfg(simple, null_score="drop"))


def test_hydra_configs_compose():
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[2] / "src" / "avengers" / "conf" / "data"
    perf = OmegaConf.load(conf / "llmrouterbench.yaml")
    assert perf.source == "llmrouterbench" and len(perf.datasets) == 15 and len(perf.models) == 20
    assert set(perf.splits) == set(perf.datasets)
    cost = OmegaConf.load(conf / "llmrouterbench_cost.yaml")
    assert len(cost.datasets) == 10 and len(cost.models) == 13 and set(cost.splits) == set(cost.datasets)
    for c in (perf, cost):
        lrb.Options.from_cfg(OmegaConf.to_container(c, resolve=False))


# ------------------------------------------------------------------ damaged / hostile tarballs (issue 12.8)
_MEMBER = "bench-release/mbpp/test/Model-A/mbpp-test-Model-A-20250101_000000.json"


def _peak_rss_of_load(config: dict) -> tuple[str | None, int]:
    """Loads in a fresh process: (the OutcomeError message or None, growth of its peak RSS in bytes)."""
    import os
    import subprocess
    import sys

    import avengers

    child = (
        "import json, resource, sys\n"
        "from avengers.errors import OutcomeError\n"
        "from avengers.outcomes import load_outcomes\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    load_outcomes(json.loads(sys.argv[1]))\n"
        "    msg = None\n"
        "except OutcomeError as e:\n"
        "    msg = str(e)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'msg': msg, 'growth': (after - before) * 1024}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(avengers.__file__).resolve().parents[1])}
    p = subprocess.run([sys.executable, "-c", child, json.dumps(config)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]  # one clear message, never a traceback
    out = json.loads(p.stdout.strip().splitlines()[-1])
    return out["msg"], out["growth"]


def test_member_claiming_2_gib_is_refused_before_reading(tmp_path):
    """The issue's case: a tiny tarball whose header announces a 2 GiB member (peaked at 4.4 GB)."""
    out = tmp_path / "bench-release.tar.gz"
    with tarfile.open(out, "w:gz") as t:
        info = tarfile.TarInfo(_MEMBER)
        info.size = 2 << 30
        t.addfile(info)  # the header only: the content is not there at all
    assert out.stat().st_size < 10_000
    msg, growth = _peak_rss_of_load(cfg(out, sha256=_sha(out)))
    assert msg is not None and _MEMBER in msg and str(out) in msg
    assert "2,147,483,648 bytes" in msg and "512 MiB" in msg and "data.max_member_mb" in msg
    assert growth < 200 * 2**20, growth


def test_large_member_is_refused_with_bounded_memory(tmp_path):
    """A real 64 MiB member over a limit of 8 MiB (data.max_member_mb) is refused unread."""
    head = {"dataset_name": "mbpp", "split": "test", "model_name": "Model-A", "demo": False, "records": []}
    blob = (json.dumps(head)[:-1] + ', "pad": "' + " " * (64 << 20) + '"}').encode()
    out = tmp_path / "bench-release.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=1) as t:
        info = tarfile.TarInfo(_MEMBER)
        info.size = len(blob)
        t.addfile(info, io.BytesIO(blob))
    del blob
    msg, growth = _peak_rss_of_load(cfg(out, sha256=_sha(out), max_member_mb=8))
    assert msg is not None and _MEMBER in msg and "8 MiB" in msg
    assert growth < 32 * 2**20, growth  # reading it would have taken > 64 MiB
    # under the default limit the same file is read (and has no records of the selection)
    msg, _ = _peak_rss_of_load(cfg(out, sha256=_sha(out)))
    assert msg is not None and "8 MiB" not in msg and "max_member_mb" not in msg


def test_member_size_limit_in_a_folder_and_bad_values(simple):
    with pytest.raises(OutcomeError, match=r"more than the 0.001 MiB allowed .*data.max_member_mb"):
        load_outcomes(cfg(simple, max_member_mb=0.001))
    for bad in (0, -1, "abc", True):
        with pytest.raises(ConfigError, match="data.max_member_mb"):
            load_outcomes(cfg(simple, max_member_mb=bad))


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 0.995])
def test_truncated_tarball_gives_one_message_naming_the_file(simple, tmp_path, fraction):
    whole = _tar(simple, tmp_path / "whole.tar.gz").read_bytes()
    cut = tmp_path / "bench-release.tar.gz"
    cut.write_bytes(whole[: int(len(whole) * fraction)])
    with pytest.raises(OutcomeError) as info:
        load_outcomes(cfg(cut, sha256=_sha(cut)))  # the checksum of the cut file: it gets past that check
    msg = str(info.value)
    assert msg.startswith(f"{cut}: the tarball is truncated or damaged (") and "Download it again" in msg
