"""What the reference implementation writes (ZhangYiqun018/Avengers at 168bcb9), read back.

1. Run results of its inference app (`app.py::run_experiment`, `json.dump(results, indent=4)` at
   app.py:76-77): `<save_dir>/<generator type>/<task>[-<experiment>]-<YYYYmmdd-HHMMSS>.json`, one
   object `{performance, time_taken, prompt_tokens, completion_tokens, model_counts, records,
   config}`; each record (e.g. evaluate/GPQA/gpqa.py:114-125, MBPP/mbpp.py:95-105) has `index`,
   `query` (the prompt), `origin_query`, `prediction` (the majority vote, or sample 0's program
   for code), `full_prediction` (one extracted answer per sample), `prediction_stats`,
   `raw_output` (the completions), `answer` (gold), `is_correct`, `model_name` (a name, or a list
   for multi-model generators). Source `avengers_results`.
2. Rank-router artifacts (`core/generate_rank_router.py::generate_artifacts`, :423-436): the
   per-cluster rankings `ranking_split_k{K}_m{M}.json` `{cluster: {total, scores: {model:
   {correct, total, accuracy}}, ranking: [model, ...]}}`, the centres `.npy` (K x D) and the
   model map `map_m{M}.json`. :func:`read_rank_router` reads and checks them (they are a fitted
   router, not per-query outcomes: nothing to import into the outcome table).

Rows of a run file (one canonical row per record and sample):
- `benchmark`: the run's task (`config.experiments.task`, else the file name's first part) under
  the harness's name (`mmlupro` -> `mmlu_pro`, `kandk` -> `knights_knaves`, `arcc` ->
  `arc_challenge`, `aime*` -> `aime`), or as written with `data.benchmark_names=reference`.
- `query_id`: `sha256(prompt)[:16]` (the record's `index` is a position in a shuffled 30%
  subsample, not an id); `query`: the prompt, or `origin_query` with `data.query_field=origin_query`.
- `model`: the record's `model_name` ("a+b" for a list), or `data.model` for every row (a router run).
- `data.samples=vote` (default): sample 0 is the reference's own decision: `answer` =
  `prediction`, `score` = `is_correct`. `data.samples=all`: one row per sample (`full_prediction`);
  a sample equal to `prediction` carries `is_correct`, any other is graded against `answer` by
  the benchmark's answer pipeline (math, choice, BBH, FinQA only: the reference keeps no
  per-sample grade for code, KOR-Bench or Knights and Knaves, whose samples need the item).
- `cost`: null (the file holds only total tokens); `split`: null.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from avengers.answers import pipeline_for
from avengers.errors import ConfigError, OutcomeError
from avengers.files import sha256_file
from avengers.outcomes import SOURCES, RawOutcomes
from avengers.outcomes.avengers_format import _choice

log = logging.getLogger(__name__)

__all__ = ["REFERENCE_TASKS", "RankRouter", "load_avengers_results", "read_rank_router"]

# the reference's task ids (evaluate/factory.py Benchmark) -> the generation registry's names
REFERENCE_TASKS: dict[str, str] = {
    "aime": "aime", "aime2024": "aime", "aime2025": "aime", "aime_total": "aime", "math500": "math500",
    "livemathbench": "livemathbench", "mmlupro": "mmlu_pro", "emorynlp": "emorynlp", "meld": "meld",
    "humaneval": "humaneval", "mbpp": "mbpp", "kandk": "knights_knaves", "bbh": "bbh", "korbench": "korbench",
    "finqa": "finqa", "medqa": "medqa", "gpqa": "gpqa", "arcc": "arc_challenge", "mathbench": "mathbench",
    "winogrande": "winogrande", "dailydialog": "dailydialog", "studenteval": "studenteval",
    "brainteaser": "brainteaser",
}
_REGRADABLE = {"math", "choice", "bbh", "finqa"}  # pipelines whose full_prediction entries are answers

CHOICES: dict[str, tuple[str, ...]] = {
    "samples": ("vote", "all"),
    "benchmark_names": ("harness", "reference"),
    "query_field": ("prompt", "origin_query"),
}




def _run_files(cfg: Mapping[str, Any]) -> list[Path]:
    raw = cfg.get("path")
    if raw in (None, "", "???"):
        raise ConfigError("data.path is not set: pass a run result of the reference's app.py (a .json), or its save_dir.")
    out: list[Path] = []
    for r in [raw] if isinstance(raw, (str, Path)) else list(raw):
        p = Path(str(r)).expanduser()
        if p.is_dir():
            found = sorted(p.rglob("*.json"))
            if not found:
                raise OutcomeError(f"data.path={str(p)!r} holds no .json run results.")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise OutcomeError(f"data.path={str(r)!r} does not exist.")
    return out


def _task(run: Mapping[str, Any], path: Path) -> str:
    cfg = run.get("config")
    if isinstance(cfg, Mapping) and isinstance(cfg.get("experiments"), Mapping) and cfg["experiments"].get("task"):
        return str(cfg["experiments"]["task"])
    return path.stem.split("-")[0]  # <task>[-<experiment>]-<date>-<time>.json


def _model(value: Any, where: str) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "+".join(value)
    raise OutcomeError(f"{where}: 'model_name' must be a model name or a list of them, got {value!r}.")


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)


@SOURCES.register("avengers_results")
def load_avengers_results(cfg: Mapping[str, Any]) -> RawOutcomes:
    samples = _choice(cfg, "samples", CHOICES)
    names = _choice(cfg, "benchmark_names", CHOICES)
    query_field = _choice(cfg, "query_field", CHOICES)
    fixed_model = cfg.get("model")
    files: dict[str, str] = {}
    recs: list[tuple] = []
    agree = disagree = 0
    for path in _run_files(cfg):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise OutcomeError(f"{path}: not valid JSON ({e}).") from None
        if not isinstance(run, dict) or not isinstance(run.get("records"), list):
            raise OutcomeError(f"{path}: not a run result of the reference's app.py (no 'records' list).")
        files[str(path)] = sha256_file(path)
        task = _task(run, path)
        bench = REFERENCE_TASKS.get(task, task) if names == "harness" else task
        pipe = pipeline_for(bench)
        if samples == "all" and pipe.name not in _REGRADABLE:
            raise ConfigError(
                f"{path}: data.samples=all needs a grade per sample; the reference keeps only the vote's for {task!r} "
                f"(answer pipeline {pipe.name!r}). Use data.samples=vote."
            )
        for i, r in enumerate(run["records"]):
            where = f"{path}: record {i}"
            if not isinstance(r, dict) or "is_correct" not in r or not isinstance(r.get("query"), str):
                raise OutcomeError(f"{where}: needs 'query' and 'is_correct' (ArenaHard / SimpleQA runs have no per-record grade).")
            prompt = r["query"]
            query = r.get("origin_query") if query_field == "origin_query" and r.get("origin_query") else prompt
            qid = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]
            model = str(fixed_model) if fixed_model else _model(r.get("model_name"), where)
            ok = 1.0 if r["is_correct"] else 0.0
            pred = _text(r.get("prediction"))
            if samples == "vote":
                recs.append((bench, qid, str(query), model, 0, ok, pred))
                continue
            preds = r.get("full_prediction")
            if not isinstance(preds, list) or not preds:
                raise OutcomeError(f"{where}: data.samples=all needs 'full_prediction' (one answer per sample).")
            gold = r.get("answer")
            for k, a in enumerate(preds):
                a = _text(a)
                mine = pipe.score(a or None, gold) if gold is not None else 0.0
                if a == pred:
                    score = ok
                    agree += mine == ok
                    disagree += mine != ok
                else:
                    score = mine
                recs.append((bench, qid, str(query), model, k, score, a or None))
    if samples == "all" and disagree:
        log.warning("avengers_results: the harness's grade differs from the reference's is_correct on %d of %d "
                    "voted answers (the reference's is kept).", disagree, agree + disagree)
    df = pd.DataFrame.from_records(recs, columns=["benchmark", "query_id", "query", "model", "sample", "score", "answer"])
    dup = df.duplicated(["benchmark", "query_id", "model", "sample"], keep=False)
    if dup.any():
        d = df[dup].iloc[0]
        raise OutcomeError(
            f"avengers_results: {d['benchmark']}/{d['query_id']} of model {d['model']!r} appears in more than one record "
            f"or run file; import one run per (task, model) (or set data.model to tell runs apart)."
        )
    df["cost"] = math.nan
    df["split"] = None
    return RawOutcomes(df=df.sort_values(["benchmark", "query_id", "model", "sample"], kind="mergesort")
                       .reset_index(drop=True), files=files)


# ------------------------------------------------------------------ rank-router artifacts
@dataclass(frozen=True)
class ClusterRanking:
    total: int  # calibration queries in the cluster
    scores: Mapping[str, tuple[int, int]]  # model -> (correct, total)
    ranking: tuple[str, ...]  # models, best first

    def accuracy(self, model: str) -> float:
        correct, total = self.scores[model]
        return correct / total if total else 0.0


@dataclass(frozen=True)
class RankRouter:
    """The reference's fitted router: centres (K x D), per-cluster rankings, model id map."""

    centres: np.ndarray
    clusters: Mapping[int, ClusterRanking]
    mapping: Mapping[str, str] = field(default_factory=dict)  # model id -> served name

    def accuracy_table(self) -> pd.DataFrame:
        """Cluster x model calibration accuracy (served names when the map knows the ids)."""
        models = sorted({m for c in self.clusters.values() for m in c.scores})
        table = pd.DataFrame(
            [[c.accuracy(m) if m in c.scores else np.nan for m in models] for c in self.clusters.values()],
            index=pd.Index(list(self.clusters), name="cluster"), columns=models,
        )
        return table.rename(columns=lambda m: self.mapping.get(m, m)).sort_index()


def read_rank_router(rankings: str | Path, centres: str | Path, mapping: str | Path | None = None) -> RankRouter:
    """Read and check the rank router's artifacts; each problem is one OutcomeError naming the file."""
    rp, cp = Path(rankings), Path(centres)
    try:
        raw = json.loads(rp.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise OutcomeError(f"{rp}: cannot read the rankings ({e}).") from None
    if not isinstance(raw, dict) or not raw:
        raise OutcomeError(f"{rp}: expected {{cluster: {{total, scores, ranking}}}}.")
    try:
        arr = np.load(cp, allow_pickle=False)  # a plain array: no pickles
    except (OSError, ValueError) as e:
        raise OutcomeError(f"{cp}: cannot read the centres ({e}).") from None
    if arr.ndim != 2:
        raise OutcomeError(f"{cp}: centres must be a K x D array, got shape {arr.shape}.")
    clusters: dict[int, ClusterRanking] = {}
    for key, c in raw.items():
        where = f"{rp}: cluster {key!r}"
        try:
            cid = int(key)
        except ValueError:
            raise OutcomeError(f"{where}: cluster ids must be integers.") from None
        if not 0 <= cid < arr.shape[0]:
            raise OutcomeError(f"{where}: no such row in the {arr.shape[0]} centres of {cp}.")
        try:
            scores = {str(m): (int(s["correct"]), int(s["total"])) for m, s in c["scores"].items()}
            ranking = tuple(str(m) for m in c["ranking"])
            total = int(c["total"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise OutcomeError(f"{where}: expected {{total, scores: {{model: {{correct, total}}}}, ranking}} ({e}).") from None
        if sorted(ranking) != sorted(scores):
            raise OutcomeError(f"{where}: the ranking lists {sorted(ranking)}, the scores {sorted(scores)}.")
        cr = ClusterRanking(total, scores, ranking)
        acc = [cr.accuracy(m) for m in ranking]
        if any(a < b - 1e-12 for a, b in zip(acc, acc[1:])):
            raise OutcomeError(f"{where}: the ranking is not by accuracy, best first ({acc}).")
        for m, s in c["scores"].items():
            if "accuracy" in s and abs(float(s["accuracy"]) - cr.accuracy(str(m))) > 1e-9:
                raise OutcomeError(f"{where}: model {m!r} accuracy {s['accuracy']} is not correct/total.")
        clusters[cid] = cr
    names: dict[str, str] = {}
    if mapping is not None:
        mp = Path(mapping)
        try:
            m = json.loads(mp.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise OutcomeError(f"{mp}: cannot read the model map ({e}).") from None
        if not isinstance(m, dict):
            raise OutcomeError(f"{mp}: expected a JSON object.")
        ids = {k for c in clusters.values() for k in c.scores}
        # generate_rank_router.py writes name -> id; rank_router.py reads id -> name: accept both
        names = {str(k): str(v) for k, v in m.items()} if ids <= set(map(str, m)) else {str(v): str(k) for k, v in m.items()}
        unknown = sorted(ids - set(names))
        if unknown:
            raise OutcomeError(f"{mp}: no name for model id(s) {unknown[:5]}.")
    return RankRouter(centres=arr, clusters=dict(sorted(clusters.items())), mapping=names)
