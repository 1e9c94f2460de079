"""Logical reasoning benchmarks: KOR-Bench, Knights and Knaves, BIG-Bench Hard (all paper15).

As the reference evaluates them: KOR-Bench and BBH 3-shot (evaluate/KORBench/korbench.py:93,
BBH/bbh.py:24), Knights and Knaves 0-shot (K_and_K/k_and_k.py:21); graded by the `korbench`
(KOR-Bench's official checker), `knights_knaves` and `bbh` answer pipelines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from avengers.generate.benchmarks import prompts
from avengers.generate.benchmarks.base import BenchmarkSpec, HubPart, Item, register
from avengers.generate.benchmarks.common import as_list

# =============================================================================== KOR-Bench
KOR_CATEGORIES = prompts.KOR_CATEGORIES
_KOR_ORDER = ("cipher", "operation", "puzzle", "counterfactual", "logic")  # the reference's task_list


def _kor_category(row: Mapping[str, Any]) -> str | None:
    for key in ("question_type", "tag", "__config__", "category"):
        v = row.get(key)
        if isinstance(v, str) and v.lower() in KOR_CATEGORIES:
            return v.lower()
    for part in reversed(PurePosixPath(str(row.get("__source__", ""))).parts[:-1]):
        if part.lower() in KOR_CATEGORIES:
            return part.lower()
    return None


def _kor_file(rel: str) -> bool:
    return PurePosixPath(rel).stem.lower() in ("sample", "rule", "three-shot")


def _kor_prepare(rows: list[dict[str, Any]], paths: Sequence[str]) -> list[dict[str, Any]]:
    """Join the published layout `<category>/{sample,rule,three-shot}.jsonl`: each sample gets its
    rule's text and the three worked questions of the same rule (reference korbench.py:94-101)."""
    rules: dict[tuple[str | None, str], str] = {}
    shots: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
    samples: list[dict[str, Any]] = []
    for r in rows:
        stem = PurePosixPath(str(r.get("__source__", ""))).stem.lower()
        cat = _kor_category(r)
        if stem == "rule" or ("rule_content" in r and "question" not in r):
            rules[(cat, str(r["idx"]))] = str(r["rule_content"])
        elif stem.startswith("three"):
            shots.setdefault((cat, str(r["rule_id"])), []).append((str(r["question"]), str(r["answer"])))
        elif "question" in r and "answer" in r:
            samples.append(r)
    out = []
    for r in samples:
        cat = _kor_category(r)
        if cat is None:
            raise ValueError(f"cannot tell the KOR-Bench category of sample {r.get('idx')!r}: keep the <category>/ folders")
        key = (cat, str(r["rule_id"]))
        if "rule_content" not in r and key not in rules:
            raise ValueError(
                f"no rule {r['rule_id']!r} for category {cat!r}: KOR-Bench samples need their "
                "rule.jsonl; point the source path at the data/ folder holding "
                "<category>/sample.jsonl, rule.jsonl and three-shot.jsonl"
            )
        worked = shots.get(key, [])
        if len(worked) < 3:
            raise ValueError(
                f"rule {r['rule_id']!r} of {cat!r} has {len(worked)} worked question(s) in three-shot.jsonl; "
                "the 3-shot prompt needs 3"
            )
        out.append({**r, "category": cat, "rule_content": r.get("rule_content", rules.get(key)), "shots": worked[:3]})
    if not out:
        raise ValueError("no KOR-Bench sample rows (question/answer/rule_id) found")
    return out


def _kor_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    cat = str(row["category"])
    rule = str(row["rule_content"])
    question = str(row["question"])
    return Item(
        benchmark=name,
        query_id=f"{cat}/{row['idx']}",
        query=f"{rule.strip()}\n\n{question.strip()}",
        gold=str(row["answer"]),
        meta={"category": cat, "rule_id": str(row.get("rule_id", "")), "idx": str(row["idx"]), "rule": rule,
              "question": question, "shots": [list(s) for s in row["shots"]]},
    )


def _kor_prompt(item: Item) -> str:
    m = item.meta
    return prompts.korbench(m["category"], m["rule"], [tuple(s) for s in m["shots"]], m["question"])


def _kor_order(item: Item) -> tuple[int, int, str]:
    idx = item.meta.get("idx", "")
    return (_KOR_ORDER.index(item.meta["category"]), int(idx) if str(idx).isdigit() else 0, item.query_id)


# ========================================================================= Knights & Knaves
def _kk_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # K-and-K/knights-and-knaves (the reference's data/K_and_K/test/people{N}_num100.jsonl): quiz,
    # names, solution (bools), solution_text_format ("(1) Zoey is a knave\n(2) ..."), index
    names = [str(n) for n in as_list(row.get("names"))]
    gold: dict[str, str] = {}
    text = row.get("solution_text_format")
    if text:  # the reference's gold statements: the lines of solution_text_format
        for m in re.finditer(r"\(\d+\)\s*(.+?)\s+is\s+a\s+(knight|knave)", str(text)):
            gold[m.group(1).strip()] = m.group(2)
    else:
        for n, s in zip(names, as_list(row.get("solution"))):
            if isinstance(s, str):
                s = s.strip().lower() in ("true", "knight", "1")
            gold[n] = "knight" if bool(s) else "knave"
    names = names or list(gold)
    if not gold or set(gold) != set(names):
        raise ValueError("cannot read the knight/knave solution")
    idx = row.get("index", row.get("__row__", i))
    return Item(
        benchmark=name,
        query_id=f"{len(names)}ppl/{idx}",
        query=str(row["quiz"]).strip(),
        gold=gold,
        meta={"names": names},
    )


def _kk_prompt(item: Item) -> str:
    return prompts.KNIGHTS_KNAVES.format(question=item.query)


def _kk_order(item: Item) -> tuple[int, int]:
    n, _, idx = item.query_id.partition("ppl/")
    return (int(n), int(idx) if idx.isdigit() else 0)


# ===================================================================== BIG-Bench Hard
def _bbh_task(row: Mapping[str, Any]) -> str:
    for key in ("task", "__config__"):
        if row.get(key):
            return str(row[key])
    return PurePosixPath(str(row.get("__source__", "bbh"))).stem


def _cot_prompt(folder: Path, task: str) -> str | None:
    """The BBH repo's 3-shot chain-of-thought prompt of a task (`cot-prompts/<task>.txt`), without
    its canary line."""
    for base in (folder, folder.parent):
        f = base / "cot-prompts" / f"{task}.txt"
        if f.is_file():
            text = f.read_text(encoding="utf-8")
            return text.split("-----\n", 1)[-1].strip()
    return None


def _bbh_prepare(rows: list[dict[str, Any]], paths: Sequence[str]) -> list[dict[str, Any]]:
    """Attach each row's 3-shot template: its own `fewshot_template` (the reference's
    data/bbh/test.json), else the BBH repo's cot-prompts/<task>.txt next to the data."""
    folders = [Path(p) if Path(p).is_dir() else Path(p).parent for p in paths]
    cache: dict[str, str | None] = {}
    out = []
    for r in rows:
        if r.get("fewshot_template"):
            out.append(r)
            continue
        task = _bbh_task(r)
        if task not in cache:
            cache[task] = next((t for f in folders if (t := _cot_prompt(f, task))), None)
        if cache[task] is None:
            raise ValueError(
                f"no 3-shot prompt for BBH task {task!r}: the reference prompts BBH with 3 worked examples; "
                "point sources.bbh.path at a clone of github.com/suzgunmirac/BIG-Bench-Hard (bbh/ and "
                "cot-prompts/) or at the reference's data/bbh/test.json (rows carry fewshot_template)"
            )
        out.append({**r, "fewshot_template": cache[task]})
    return out


def _bbh_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    task = _bbh_task(row)
    return Item(
        benchmark=name,
        query_id=f"{task}/{row.get('__row__', i)}",
        query=str(row["input"]),
        gold=str(row["target"]).strip(),
        meta={"task": task, "fewshot_template": str(row["fewshot_template"])},
    )


def _bbh_prompt(item: Item) -> str:
    return prompts.BBH.format(template=item.meta["fewshot_template"], question=item.query)


def _bbh_file(rel: str) -> bool:
    return "cot-prompts" not in rel and "code-davinci" not in rel


KORBENCH = register(
    BenchmarkSpec(
        name="korbench",
        suite="paper15",
        answer_kind="text",
        hub=(),  # published on GitHub (KOR-Bench/KOR-Bench, data/): set a local path
        to_item=_kor_item,
        prompt_fn=_kor_prompt,
        pipeline="korbench",
        local_split=None,
        keep_file=_kor_file,
        prepare_rows=_kor_prepare,
        order_key=_kor_order,
        reference_files=("KORBench",),
        n_items=1250,
        n_items_source="5 categories x 250 sample.jsonl rows (evaluate/KORBench/korbench.py:58-66)",
        prompt_format="3-shot per rule: KOR-Bench's three-shot.yaml template, rule, 3 worked questions of the rule, "
                      "the question (evaluate/KORBench/korbench.py:93-104)",
        description="KOR-Bench: rule-following reasoning in 5 categories (operation, logic, cipher, puzzle, "
                    "counterfactual); answers in [[...]], graded by KOR-Bench's official checker.",
        homepage="https://kor-bench.github.io",
    )
)

KNIGHTS_KNAVES = register(
    BenchmarkSpec(
        name="knights_knaves",
        suite="paper15",
        answer_kind="assignment",
        hub=tuple(HubPart("K-and-K/knights-and-knaves", "test", f"{n}ppl") for n in range(2, 9)),
        to_item=_kk_item,
        prompt_fn=_kk_prompt,
        pipeline="knights_knaves",
        columns=("quiz",),
        order_key=_kk_order,
        reference_files=("K_and_K/test",),
        n_items=700,
        n_items_source="people2..8 x 100 (evaluate/K_and_K/k_and_k.py:44 loads data/K_and_K split test)",
        prompt_format="0-shot; identities after 'CONCLUSION:' as '(1) ...' (evaluate/K_and_K/k_and_k.py:21)",
        description="Knights and Knaves puzzles with 2-8 people; right when every identity is stated.",
        homepage="https://huggingface.co/datasets/K-and-K/knights-and-knaves",
    )
)

BBH = register(
    BenchmarkSpec(
        name="bbh",
        suite="paper15",
        answer_kind="text",
        hub=(),  # the 3-shot prompts live in the BBH repo (cot-prompts/), not on the Hub
        to_item=_bbh_item,
        prompt_fn=_bbh_prompt,
        pipeline="bbh",
        columns=("input", "target"),
        local_split=None,
        keep_file=_bbh_file,
        prepare_rows=_bbh_prepare,
        reference_files=("bbh/test.json",),
        n_items=1080,
        n_items_source="the reference's data/bbh/test.json (evaluate/BBH/bbh.py:41): 1,080 = 27 tasks x 40 per the "
                       "LLMRouterBench README; which 40 is not in the code, the BBH repo gives all 6,511",
        prompt_format="3-shot: the task's 3 worked examples, 'Question: ...', last line 'Answer: $ANSWER' "
                      "(evaluate/BBH/bbh.py:24)",
        description="BIG-Bench Hard, 27 tasks, 3-shot chain of thought; targets compared like math answers.",
        homepage="https://github.com/suzgunmirac/BIG-Bench-Hard",
    )
)
