"""Math benchmarks: AIME, MATH500, LiveMathBench (paper15) and MathBench (ood5).

As the reference evaluates them: one 0-shot prompt asking for the final answer in
`\\boxed{}` (evaluate/AIME/aime.py:24), graded by the `math` answer pipeline; MathBench is its
college single-choice set (evaluate/MATHBench/mathbench.py:53), graded by the `choice` pipeline.
"""

from __future__ import annotations

from typing import Any, Mapping

from avengers.generate.benchmarks import prompts
from avengers.generate.benchmarks.base import BenchmarkSpec, HubPart, Item, register
from avengers.generate.benchmarks.common import as_list, lettered, letter_of, pick, source_stem


def math_prompt(item: Item) -> str:
    return prompts.MATH.replace("{Question}", item.query)


# --------------------------------------------------------------------------- AIME
def _aime_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # the reference's data/AIME/{2024,2025}.json and Maxwell-Jia/AIME_2024: ID, Problem, Solution,
    # Answer; MathArena/aime_2025: problem_idx, problem, answer; HuggingFaceH4/aime_2024: id, problem, answer, year
    year = row.get("year") or row.get("__part__")
    stem = source_stem(row)
    if year is None and stem[:4].isdigit():
        year = stem[:4]
    qid = pick(row, "ID", "id", "problem_idx", default=None)
    if qid is None:
        qid = f"{stem}/{row.get('__row__', i)}"
    elif year is not None and str(year) not in str(qid):
        qid = f"{year}-{qid}"
    return Item(
        benchmark=name,
        query_id=str(qid),
        query=str(pick(row, "Problem", "problem", "question")).strip(),
        gold=str(pick(row, "Answer", "answer")).strip(),
        meta={"year": str(year)} if year is not None else {},
    )


# ------------------------------------------------------------------------ MATH500
def _math500_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # HuggingFaceH4/MATH-500 (and the reference's data/MATH500/test.json): problem, solution, answer,
    # subject, level, unique_id
    return Item(
        benchmark=name,
        query_id=str(pick(row, "unique_id", "id", default=f"row{row.get('__row__', i)}")),
        query=str(pick(row, "problem", "question")).strip(),
        gold=str(row["answer"]).strip(),
        meta={k: row[k] for k in ("subject", "level") if k in row},
    )


# ------------------------------------------------------------------ LiveMathBench
def _livemath_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # opencompass/LiveMathBench v202412_*_en configs (and the reference's en_test.json): question, answer
    qid = row.get("id")
    if qid is None:
        qid = f"{source_stem(row)}/{row.get('__row__', i)}"
    return Item(
        benchmark=name,
        query_id=str(qid),
        query=str(pick(row, "question", "problem")).strip(),
        gold=str(row["answer"]).strip(),
        meta={k: row[k] for k in ("question_type", "subdivision", "__config__") if k in row},
    )


# ---------------------------------------------------------------------- MathBench
def _mathbench_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # OpenCompass MathBench college single choice (the reference's data/MathBench/college.jsonl):
    # question, options[4], answer letter
    options = [str(o) for o in as_list(row.get("options"))]
    if len(options) != 4:
        raise ValueError(
            f"expected 4 options, got {len(options)}: the reference evaluates MathBench's college "
            "single-choice questions only (point the path at college/single_choice_en.jsonl)"
        )
    question = str(row["question"]).strip()
    return Item(
        name, f"{source_stem(row)}/{row.get('__row__', i)}", question, letter_of(row["answer"], 4),
        {"question": question, "options": lettered(options), "answer_letters": "A-D"},
    )


def _mathbench_prompt(item: Item) -> str:
    return prompts.CHOICE.format(candidates="ABCD", question=item.meta["question"],
                                 options=prompts.options_block(item.meta["options"]))


def _mathbench_file(rel: str) -> bool:
    low = rel.lower()
    return low.endswith("college.jsonl") or ("college" in low and "single_choice_en" in low)


_MATH_FORMAT = "0-shot; step by step, final answer in \\boxed{} (evaluate/AIME/aime.py:24)"

AIME = register(
    BenchmarkSpec(
        name="aime",
        suite="paper15",
        answer_kind="math",
        hub=(HubPart("Maxwell-Jia/AIME_2024", split="train", tag="2024"),
             HubPart("MathArena/aime_2025", split="train", tag="2025")),
        to_item=_aime_item,
        prompt_fn=math_prompt,
        pipeline="math",
        local_split=None,
        keep_file=lambda rel: "total" not in rel.lower(),  # the reference's AIME/total.json repeats the others
        reference_files=("AIME/2024.json", "AIME/2025.json"),
        n_items=60,
        n_items_source="evaluate/factory.py:79 task 'aime' = split 'hybrid' = 2024.json + 2025.json (aime.py:47)",
        prompt_format=_MATH_FORMAT,
        description="AIME 2024 and 2025 (30 + 30 problems, integer answers).",
        homepage="https://artofproblemsolving.com/wiki/index.php/AIME_Problems_and_Solutions",
    )
)

MATH500 = register(
    BenchmarkSpec(
        name="math500",
        suite="paper15",
        answer_kind="math",
        hub=(HubPart("HuggingFaceH4/MATH-500", split="test"),),
        to_item=_math500_item,
        prompt_fn=math_prompt,
        pipeline="math",
        columns=("problem", "answer"),
        reference_files=("MATH500/test.json",),
        n_items=500,
        n_items_source="MATH-500 (evaluate/MATH500/math500.py:46 reads test.json)",
        prompt_format=_MATH_FORMAT,
        description="MATH-500: the 500-problem subset of MATH from 'Let's Verify Step by Step'.",
        homepage="https://huggingface.co/datasets/HuggingFaceH4/MATH-500",
    )
)

LIVEMATHBENCH = register(
    BenchmarkSpec(
        name="livemathbench",
        suite="paper15",
        answer_kind="math",
        hub=tuple(HubPart("opencompass/LiveMathBench", c, "test")  # gated: accept its conditions first
                  for c in ("v202412_AMC_en", "v202412_CCEE_en", "v202412_CNMO_en", "v202412_WLPMC_en")),
        to_item=_livemath_item,
        prompt_fn=math_prompt,
        pipeline="math",
        columns=("question", "answer"),
        reference_files=("livemathbench/en_test.json",),
        n_items=121,
        n_items_source="LLMRouterBench README (same group, same data/livemathbench/en_test.json)",
        prompt_format=_MATH_FORMAT,
        description="LiveMathBench v202412, English questions (CNMO, CCEE, AMC, WLPMC).",
        homepage="https://github.com/open-compass/GPassK",
    )
)

MATHBENCH = register(
    BenchmarkSpec(
        name="mathbench",
        suite="ood5",
        answer_kind="choice",
        hub=(),  # released as a zip on GitHub (open-compass/MathBench): set a local path
        to_item=_mathbench_item,
        prompt_fn=_mathbench_prompt,
        pipeline="choice",
        columns=("question", "options", "answer"),
        local_split=None,
        keep_file=_mathbench_file,
        reference_files=("MathBench/college.jsonl",),
        n_items=150,
        n_items_source="evaluate/MATHBench/mathbench.py:53 (college.jsonl only); 150 per the LLMRouterBench README",
        prompt_format="0-shot; 4 options 'A. ...', last line 'Answer: $LETTER' (evaluate/MATHBench/mathbench.py:29)",
        description="MathBench (OpenCompass), college single-choice questions.",
        homepage="https://github.com/open-compass/MathBench",
    )
)
