"""Tiny releases laid out like LLMRouterBench's bench-release (shared/specs/released_data.md §1.2,
§1.3): `bench-release/<dataset>/<split>/<model>/<dataset>-<split>-<model>-<stamp>.json`, one JSON
object per file with the result header and 1-based `records`. Synthetic, for tests only."""

from __future__ import annotations

import json
from pathlib import Path

# Words that make each dataset's prompts look alike (so clustering has something to find).
TOPICS = {
    "aime": "integer remainder modulo prime", "math500": "algebra equation solve root",
    "livemathbench": "limit series converge sum", "mbpp": "python function list return",
    "humaneval": "def docstring implement string", "korbench": "cipher rule puzzle operation",
    "kandk": "knight knave truth lie island", "bbh": "date sort boolean navigate",
    "arcc": "science grade plant energy", "mmlupro": "law economics history option",
    "gpqa": "quantum chemistry molecule graduate", "finqa": "revenue percent table fiscal",
    "medqa": "patient diagnosis symptom treatment", "emorynlp": "speaker emotion friends scene",
    "meld": "dialogue utterance feeling joy", "mathbench": "college calculus derivative integral",
    "winogrande": "sentence blank pronoun option",
}


def record(index: int, prompt: str, score: float | None, *, cost: float = 0.0, prediction: str = "x") -> dict:
    return {
        "index": index, "origin_query": f"Q: {prompt}", "prompt": prompt, "prompt_tokens": 12,
        "completion_tokens": 34, "cost": cost, "score": score, "prediction": prediction,
        "ground_truth": "x", "raw_output": "...", "extra_fields": {},
    }


def write_result(root: Path, dataset: str, split: str, model: str, records: list[dict],
                 stamp: str = "20250102_030405") -> Path:
    head = {
        "performance": 0.0, "time_taken": 1.0, "prompt_tokens": 0, "completion_tokens": 0,
        "cost": sum(r["cost"] for r in records), "counts": len(records), "model_name": model,
        "dataset_name": dataset, "split": split, "demo": False, "data_fingerprint": "", "records": records,
    }
    path = root / dataset / split / model / f"{dataset}-{split}-{model}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(head, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def prompts(dataset: str, n: int) -> list[str]:
    words = TOPICS.get(dataset, dataset).split()
    return [f"[{dataset}] {' '.join(words)} question {i}: {words[i % len(words)]} {words[(i + 1) % len(words)]}?"
            for i in range(n)]


def build(root: Path, datasets: dict[str, str], models: list[str], n: int, *,
          best: dict[str, int] | None = None, absent: set[tuple[str, str]] = frozenset(),
          cost_of=None) -> Path:
    """A release: every (dataset, model) file except those in `absent`. In each dataset the model
    `best[dataset]` (index into `models`) is right on every query, the others on every 4th.
    `cost_of(model_index, query_index)` gives the USD cost (0 = not priced)."""
    best = best or {d: i % len(models) for i, d in enumerate(datasets)}
    for d, split in datasets.items():
        for mi, m in enumerate(models):
            if (d, m) in absent:
                continue
            recs = [record(i + 1, p, 1.0 if mi == best[d] or i % 4 == 0 else 0.0,
                           cost=(cost_of(mi, i) if cost_of else 0.0), prediction=str(i))
                    for i, p in enumerate(prompts(d, n))]
            write_result(root, d, split, m, recs)
    return root
