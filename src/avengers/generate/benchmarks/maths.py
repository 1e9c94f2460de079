"""Math benchmarks: AIME, MATH500, LiveMathBench (paper15) and MathBench (ood5).

Prompted for a chain of thought ending in ``\\boxed{answer}``; graded for mathematical
equivalence with math-verify.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Mapping

from avengers.generate.benchmarks.base import BenchmarkSpec, Item, register
from avengers.generate.benchmarks.common import (
    BOXED_INSTRUCTION,
    as_list,
    extract_choice,
    extract_math,
    format_options,
    letter_of,
    math_equal,
    mc_prompt,
    pick,
)


def _source_stem(row: Mapping[str, Any]) -> str:
    if row.get("__config__"):
        return str(row["__config__"])
    src = str(row.get("__source__") or "data")
    return str(PurePosixPath(src).with_suffix(""))


def math_prompt(item: Item) -> str:
    return f"{BOXED_INSTRUCTION}\n\n{item.query}"


def math_extract(completion: str, item: Item) -> str | None:
    return extract_math(completion)


def math_grade(item: Item, extracted: str | None, completion: str) -> float:
    return 1.0 if math_equal(extracted, item.gold) else 0.0


# --------------------------------------------------------------------------- AIME
def _aime_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # HuggingFaceH4/aime_2024: id, problem, solution, answer, url, year
    # Maxwell-Jia/AIME_2024 (used by the paper's code): ID, Problem, Solution, Answer
    qid = pick(row, "id", "ID", "problem_idx", default=None)
    year = row.get("year")
    if qid is None:
        qid = f"{_source_stem(row)}/{row.get('__row__', i)}"
    elif year is not None and str(year) not in str(qid):
        qid = f"{year}-{qid}"
    answer = pick(row, "answer", "Answer")
    return Item(
        benchmark=name,
        query_id=str(qid),
        query=str(pick(row, "problem", "Problem", "question")).strip(),
        gold=str(answer).strip(),
        meta={"year": year} if year is not None else {},
    )


# ------------------------------------------------------------------------ MATH500
def _math500_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # HuggingFaceH4/MATH-500: problem, solution, answer, subject, level, unique_id
    return Item(
        benchmark=name,
        query_id=str(pick(row, "unique_id", "id", default=f"row{row.get('__row__', i)}")),
        query=str(pick(row, "problem", "question")).strip(),
        gold=str(row["answer"]).strip(),
        meta={k: row[k] for k in ("subject", "level") if k in row},
    )


# ------------------------------------------------------------------ LiveMathBench
def _livemath_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # opencompass/LiveMathBench (v202412_*_en configs): question, answer, question_type, ...
    qid = row.get("id")
    if qid is None:
        qid = f"{_source_stem(row)}/{row.get('__row__', i)}"
    return Item(
        benchmark=name,
        query_id=str(qid),
        query=str(pick(row, "question", "problem")).strip(),
        gold=str(row["answer"]).strip(),
        meta={k: row[k] for k in ("question_type", "subdivision", "__config__") if k in row},
    )


# ---------------------------------------------------------------------- MathBench
def _mathbench_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # OpenCompass MathBench v1 jsonl: single-choice rows {question, options[4], answer: "B"},
    # cloze rows {question, answer}.
    qid = f"{_source_stem(row)}/{row.get('__row__', i)}"
    question = str(row["question"]).strip()
    options = [str(o) for o in as_list(row.get("options"))] if row.get("options") is not None else []
    if options:
        gold = letter_of(row["answer"], len(options))
        query = f"{question}\n\n{format_options(options)}"
        return Item(name, qid, query, gold, {"kind": "choice", "options": options, "question": question})
    return Item(name, qid, question, str(row["answer"]).strip(), {"kind": "cloze"})


def _mathbench_prompt(item: Item) -> str:
    if item.meta.get("kind") == "choice":
        return mc_prompt(item.meta["question"], item.meta["options"])
    return math_prompt(item)


def _mathbench_extract(completion: str, item: Item) -> str | None:
    if item.meta.get("kind") == "choice":
        return extract_choice(completion, len(item.meta["options"]))
    return extract_math(completion)


def _mathbench_grade(item: Item, extracted: str | None, completion: str) -> float:
    if item.meta.get("kind") == "choice":
        return 1.0 if extracted is not None and extracted.upper() == item.gold else 0.0
    return math_grade(item, extracted, completion)


AIME = register(
    BenchmarkSpec(
        name="aime",
        suite="paper15",
        answer_kind="math",
        hf_id="HuggingFaceH4/aime_2024",
        hf_revision="main",  # TODO pin a commit once mirrored
        hf_config=None,
        hf_split="train",
        to_item=_aime_item,
        prompt_fn=math_prompt,
        extract_fn=math_extract,
        grade_fn=math_grade,
        description="AIME 2024 (30 problems, integer answers); the paper also mixes in AIME 2025.",
        homepage="https://artofproblemsolving.com/wiki/index.php/AIME_Problems_and_Solutions",
    )
)

MATH500 = register(
    BenchmarkSpec(
        name="math500",
        suite="paper15",
        answer_kind="math",
        hf_id="HuggingFaceH4/MATH-500",
        hf_revision="main",
        hf_config=None,
        hf_split="test",
        to_item=_math500_item,
        prompt_fn=math_prompt,
        extract_fn=math_extract,
        grade_fn=math_grade,
        columns=("problem", "answer"),
        description="MATH-500: the 500-problem subset of MATH from 'Let's Verify Step by Step'.",
        homepage="https://huggingface.co/datasets/HuggingFaceH4/MATH-500",
    )
)

LIVEMATHBENCH = register(
    BenchmarkSpec(
        name="livemathbench",
        suite="paper15",
        answer_kind="math",
        hf_id="opencompass/LiveMathBench",  # gated: accept the conditions on the Hub first
        hf_revision="main",
        hf_config=None,
        hf_split="test",
        hf_configs=("v202412_AMC_en", "v202412_CCEE_en", "v202412_CNMO_en", "v202412_WLPMC_en"),
        to_item=_livemath_item,
        prompt_fn=math_prompt,
        extract_fn=math_extract,
        grade_fn=math_grade,
        columns=("question", "answer"),
        description="LiveMathBench v202412, English questions (CNMO, CCEE, AMC, WLPMC).",
        homepage="https://github.com/open-compass/GPassK",
    )
)

MATHBENCH = register(
    BenchmarkSpec(
        name="mathbench",
        suite="ood5",
        answer_kind="choice",
        hf_id=None,  # released as a zip on GitHub (open-compass/MathBench): set a local path
        hf_revision=None,
        hf_config=None,
        hf_split="test",
        to_item=_mathbench_item,
        prompt_fn=_mathbench_prompt,
        extract_fn=_mathbench_extract,
        grade_fn=_mathbench_grade,
        columns=("question", "answer"),
        description="MathBench (OpenCompass); the paper uses the college single-choice set. "
        "Cloze rows (no options) are graded as math.",
        homepage="https://github.com/open-compass/MathBench",
    )
)
