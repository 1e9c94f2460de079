"""Logical reasoning benchmarks: KOR-Bench, Knights and Knaves, BIG-Bench Hard (all paper15)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from avengers.generate.benchmarks.base import BenchmarkSpec, Item, register
from avengers.generate.benchmarks.common import (
    ANSWER_LINE_INSTRUCTION,
    answer_line,
    as_list,
    last_boxed,
    math_equal,
    parse_number,
    pick,
    strip_markup,
)

# =============================================================================== KOR-Bench
KOR_CATEGORIES = ("operation", "logic", "cipher", "puzzle", "counterfactual")


def _kor_category(row: Mapping[str, Any]) -> str | None:
    for key in ("category", "question_type", "__config__"):
        v = row.get(key)
        if isinstance(v, str) and v.lower() in KOR_CATEGORIES:
            return v.lower()
    parts = PurePosixPath(str(row.get("__source__", ""))).parts
    for part in reversed(parts[:-1]):
        if part.lower() in KOR_CATEGORIES:
            return part.lower()
    return None


def _kor_prepare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join the published layout ``<category>/sample.jsonl`` + ``<category>/rule.jsonl``.

    Rows that already carry ``rule_content`` are kept as they are; ``three-shot`` and ``mixed``
    files are ignored.
    """
    rules: dict[tuple[str | None, str], str] = {}
    samples: list[dict[str, Any]] = []
    for r in rows:
        stem = PurePosixPath(str(r.get("__source__", ""))).stem.lower()
        if stem.startswith(("three", "multi")):
            continue
        if stem == "rule" or ("rule_content" in r and "question" not in r):
            rules[(_kor_category(r), str(r["idx"]))] = str(r["rule_content"])
        elif "question" in r and "answer" in r:
            samples.append(r)
    out = []
    for r in samples:
        cat = _kor_category(r)
        if "rule_content" not in r:
            key = (cat, str(r["rule_id"]))
            if key not in rules:
                raise ValueError(
                    f"no rule {r['rule_id']!r} for category {cat!r}: KOR-Bench samples need their "
                    "rule.jsonl; point the source path at the data/ folder holding "
                    "<category>/sample.jsonl and <category>/rule.jsonl"
                )
            r = {**r, "rule_content": rules[key]}
        out.append({**r, "category": cat})
    if not out:
        raise ValueError("no KOR-Bench sample rows (question/answer/rule_id) found")
    return out


def _kor_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    cat = row.get("category") or "unknown"
    rule = str(row["rule_content"]).strip()
    question = str(row["question"]).strip()
    return Item(
        benchmark=name,
        query_id=f"{cat}/{row['idx']}",
        query=f"{rule}\n\n{question}",
        gold=str(row["answer"]).strip(),
        meta={"category": cat, "rule_id": str(row.get("rule_id", "")), "rule": rule, "question": question},
    )


def _kor_prompt(item: Item) -> str:
    return (
        f"You are an expert in {item.meta['category']} puzzles. Below is a rule that may differ "
        "from what you know; apply it exactly as stated.\n\n"
        f"### Rule:\n{item.meta['rule']}\n\n### Question:\n{item.meta['question']}\n\n"
        "Think step by step, then give your final answer wrapped in double square brackets, "
        "like [[your answer]], on the last line of your response."
    )


_BRACKETS = re.compile(r"\[\[\s*(.*?)\s*\]\]", re.S)


def _kor_inner(text: str) -> str | None:
    hits = _BRACKETS.findall(text)
    if hits:
        return hits[-1].strip()
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    return answer_line(text)


def _kor_extract(completion: str, item: Item) -> str | None:
    return _kor_inner(completion)


def _kor_norm(s: str) -> str:
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = s.replace("\\", "").replace("$", "")
    return re.sub(r"[\s\"'`.]+", "", s).lower()


def _kor_alnum(s: str) -> str:
    return re.sub(r"\W+", "", s).lower()


def kor_equal(pred: str | None, gold: str, category: str = "") -> bool:
    """KOR-Bench answer match, after the benchmark's own normalisations.

    The official evaluator compares the [[...]] contents after stripping whitespace, quotes and
    punctuation (``method_general``), treats 'a or b' answers as unordered sets, and compares
    math answers symbolically (``compare_math_expressions``). Rule-specific checkers of the
    official code (e.g. the 24-point puzzle that evaluates the expression) are not reproduced.
    """
    if pred is None:
        return False
    g_inner = _kor_inner(gold) or gold
    p, g = pred.strip(), g_inner.strip()
    if _kor_norm(p) == _kor_norm(g) or (_kor_alnum(g) and _kor_alnum(p) == _kor_alnum(g)):
        return True
    if re.search(r"(?<![a-z])or(?![a-z])", g):
        gp = sorted(_kor_norm(x) for x in re.split(r"(?<![a-z])or(?![a-z])", g))
        pp = sorted(_kor_norm(x) for x in re.split(r"(?<![a-z])or(?![a-z])", p.replace("\\text{or}", "or")))
        if gp == pp:
            return True
    gn, pn = parse_number(g), parse_number(p)
    if gn is not None and pn is not None:
        return abs(gn - pn) <= 1e-6 * max(1.0, abs(gn))
    if category in ("operation", "counterfactual") and any(c in g for c in "\\^/"):
        return math_equal(p, g)
    return False


def _kor_grade(item: Item, extracted: str | None, completion: str) -> float:
    return 1.0 if kor_equal(extracted, str(item.gold), str(item.meta.get("category", ""))) else 0.0


# ========================================================================= Knights & Knaves
def _kk_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # K-and-K/knights-and-knaves: quiz, names, knight_knave, solution (bools), solution_text,
    # solution_text_format ("(1) Zoey is a knave\n(2) Oliver is a knight"), statements, index
    names = [str(n) for n in as_list(row.get("names"))]
    gold: dict[str, str] = {}
    solution = as_list(row.get("solution")) if row.get("solution") is not None else []
    if names and len(solution) == len(names):
        for n, s in zip(names, solution):
            if isinstance(s, str):
                s = s.strip().lower() in ("true", "knight", "1")
            gold[n] = "knight" if bool(s) else "knave"
    else:
        text = str(pick(row, "solution_text_format", "solution_text"))
        for m in re.finditer(r"([A-Z][\w'-]*)\s+is\s+a\s+(knight|knave)", text):
            gold[m.group(1)] = m.group(2)
        names = names or list(gold)
    if not gold or set(gold) != set(names):
        raise ValueError("cannot read the knight/knave solution")
    n_people = len(names)
    idx = row.get("index", row.get("__row__", i))
    return Item(
        benchmark=name,
        query_id=f"{n_people}ppl/{idx}",
        query=str(row["quiz"]).strip(),
        gold=gold,
        meta={"names": names},
    )


def _kk_prompt(item: Item) -> str:
    lines = "\n".join(f"({k}) {n} is a knight/knave" for k, n in enumerate(item.meta["names"], 1))
    return (
        "Solve the following logic puzzle. On this island, knights always tell the truth and "
        "knaves always lie. Explain your reasoning step by step, then end your response with "
        "the identity of every character in exactly this format:\n\n"
        f"CONCLUSION:\n{lines}\n\n### Question:\n{item.query}"
    )


def kk_parse(text: str, names: list[str]) -> dict[str, str]:
    tail = text
    for marker in ("CONCLUSION:", "Conclusion:", "conclusion:", "\\boxed"):
        k = text.rfind(marker)
        if k >= 0:
            tail = text[k:]
            break
    tail = tail.replace("**", "").replace("\\text{", "")
    out: dict[str, str] = {}
    for n in names:
        pat = rf"{re.escape(n)}\W{{0,3}}\s*(?:is\s+(?:a\s+)?|:|-|=)\s*\W{{0,2}}(knight|knave)"
        hits = re.findall(pat, tail, flags=re.I)
        if hits:
            out[n] = hits[-1].lower()
    return out


def _kk_extract(completion: str, item: Item) -> str | None:
    names = list(item.meta["names"])
    found = kk_parse(completion, names)
    if not found:
        return None
    return "; ".join(f"{n}={found.get(n, '?')}" for n in names)


def _kk_grade(item: Item, extracted: str | None, completion: str) -> float:
    if not extracted:
        return 0.0
    pred = dict(part.split("=", 1) for part in extracted.split("; ") if "=" in part)
    return 1.0 if all(pred.get(n) == role for n, role in dict(item.gold).items()) else 0.0


# ===================================================================== BIG-Bench Hard
BBH_TASKS = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa",
    "dyck_languages", "formal_fallacies", "geometric_shapes", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects",
    "logical_deduction_three_objects", "movie_recommendation", "multistep_arithmetic_two",
    "navigate", "object_counting", "penguins_in_a_table", "reasoning_about_colored_objects",
    "ruin_names", "salient_translation_error_detection", "snarks", "sports_understanding",
    "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects",
    "web_of_lies", "word_sorting",
)


def _bbh_task(row: Mapping[str, Any]) -> str:
    for key in ("task", "__config__"):
        if row.get(key):
            return str(row[key])
    return PurePosixPath(str(row.get("__source__", "bbh"))).stem


def _bbh_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # lukaemon/bbh (one config per task) or the BBH repo's bbh/<task>.json {"examples": [...]}
    task = _bbh_task(row)
    return Item(
        benchmark=name,
        query_id=f"{task}/{row.get('__row__', i)}",
        query=str(row["input"]).strip(),
        gold=str(row["target"]).strip(),
        meta={"task": task},
    )


def _bbh_prompt(item: Item) -> str:
    hint = ""
    if re.fullmatch(r"\([A-R]\)", str(item.gold)):
        hint = " For multiple choice questions, answer with the option letter, e.g. 'Answer: (A)'."
    return f"{ANSWER_LINE_INSTRUCTION}{hint}\n\n{item.query}"


def _bbh_extract(completion: str, item: Item) -> str | None:
    line = answer_line(completion)
    if line is None:
        boxed = last_boxed(completion)
        if boxed is None:
            return None
        line = re.sub(r"\\text\{([^}]*)\}", r"\1", boxed)
    if re.fullmatch(r"\([A-R]\)", str(item.gold)):
        m = re.match(r"^\(?([A-R])\)?(?:[.):\s]|$)", strip_markup(line))
        return f"({m.group(1)})" if m else line
    return line


def _bbh_norm(s: str) -> str:
    s = strip_markup(s).strip().rstrip(".").strip().strip('"').lower()
    return re.sub(r"\s+", " ", s)


def _bbh_grade(item: Item, extracted: str | None, completion: str) -> float:
    if extracted is None:
        return 0.0
    gold, pred = _bbh_norm(str(item.gold)), _bbh_norm(extracted)
    if pred == gold or pred.replace(" ", "") == gold.replace(" ", ""):
        return 1.0
    gn, pn = parse_number(gold), parse_number(pred)
    if gn is not None and pn is not None:
        return 1.0 if gn == pn else 0.0
    return 0.0


KORBENCH = register(
    BenchmarkSpec(
        name="korbench",
        suite="paper15",
        answer_kind="text",
        hf_id=None,  # published on GitHub (KOR-Bench/KOR-Bench, data/): set a local path
        hf_revision=None,
        hf_config=None,
        hf_split="test",
        to_item=_kor_item,
        prompt_fn=_kor_prompt,
        extract_fn=_kor_extract,
        grade_fn=_kor_grade,
        prepare_rows=_kor_prepare,
        description="KOR-Bench: rule-following reasoning in 5 categories (operation, logic, "
        "cipher, puzzle, counterfactual); answers in [[...]].",
        homepage="https://kor-bench.github.io",
    )
)

KNIGHTS_KNAVES = register(
    BenchmarkSpec(
        name="knights_knaves",
        suite="paper15",
        answer_kind="assignment",
        hf_id="K-and-K/knights-and-knaves",
        hf_revision="main",  # TODO pin; data files last changed in commit 8cbfa83
        hf_config="test",
        hf_split="2ppl+3ppl+4ppl+5ppl+6ppl+7ppl+8ppl",
        local_split="test",
        to_item=_kk_item,
        prompt_fn=_kk_prompt,
        extract_fn=_kk_extract,
        grade_fn=_kk_grade,
        columns=("quiz",),
        description="Knights and Knaves puzzles with 2-8 people; correct when every identity is.",
        homepage="https://huggingface.co/datasets/K-and-K/knights-and-knaves",
    )
)

BBH = register(
    BenchmarkSpec(
        name="bbh",
        suite="paper15",
        answer_kind="text",
        hf_id="lukaemon/bbh",
        hf_revision="main",
        hf_config=None,
        hf_split="test",
        hf_configs=BBH_TASKS,
        to_item=_bbh_item,
        prompt_fn=_bbh_prompt,
        extract_fn=_bbh_extract,
        grade_fn=_bbh_grade,
        columns=("input", "target"),
        description="BIG-Bench Hard, 27 tasks; exact match after normalisation.",
        homepage="https://github.com/suzgunmirac/BIG-Bench-Hard",
    )
)
