"""Code generation: MBPP, HumanEval (paper15) and StudentEval (ood5).

As the reference evaluates them (evaluate/MBPP/mbpp.py, HumanEval/humaneval.py): the prompt
shows the task and its tests; the answer is the `code` pipeline's sanitised code (imports and
definitions of the longest parsable span); the program graded is the reference's import block,
that code and the tests (`check(entry_point)` for HumanEval), run in
:mod:`avengers.generate.sandbox` with the reference's 10 s limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from avengers.generate.benchmarks import prompts
from avengers.generate.benchmarks.base import BenchmarkSpec, HubPart, Item, register
from avengers.generate.benchmarks.common import as_list, pick
from avengers.generate.sandbox import SandboxLimits, run_tests

#: limits for grading one completion (the reference's time_out=10)
CODE_LIMITS = SandboxLimits(timeout=10.0, memory_mb=1024, max_processes=16, max_file_mb=16)

IMPORT_BLOCK = "\n".join(prompts.CODE_IMPORTS)


def passes(code: str | None, tests: str) -> float:
    """1.0 when the reference's import block + `code` + `tests` runs without error."""
    if not code:
        return 0.0
    return 1.0 if run_tests(f"{IMPORT_BLOCK}\n{code}", tests, CODE_LIMITS).passed else 0.0


# --------------------------------------------------------------------------- MBPP
def _mbpp_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # google-research-datasets/mbpp full (and the reference's data/MBPP/test.json): task_id, text,
    # code, test_list, test_setup_code, challenge_test_list; sanitized: prompt instead of text
    text = str(pick(row, "text", "prompt")).strip()
    tests = [str(t) for t in as_list(row["test_list"])]
    m = re.match(r"\s*assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*(?:math\.isclose\()?\s*([A-Za-z_]\w*)\s*\(", tests[0]) if tests else None
    return Item(
        benchmark=name,
        query_id=str(row["task_id"]),
        query=text,
        gold=tests,
        meta={"entry_point": m.group(1) if m else None},
    )


def _mbpp_prompt(item: Item) -> str:
    return prompts.CODE.format(question=item.query, test="\n".join(item.gold))


def _mbpp_grade(item: Item, code: str | None, completion: str) -> float:
    # the reference runs imports + code + the asserts; MBPP's test_setup_code is not used
    return passes(code, "\n".join(item.gold))


def _task_number(item: Item) -> tuple[int, str]:
    digits = re.sub(r"\D", "", item.query_id)
    return (int(digits) if digits else 0, item.query_id)


# ---------------------------------------------------------------------- HumanEval
def _humaneval_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # openai/openai_humaneval and the reference's data/HumanEval/HumanEval.jsonl:
    # task_id, prompt, canonical_solution, test, entry_point
    return Item(
        benchmark=name,
        query_id=str(row["task_id"]),
        query=str(row["prompt"]),
        gold=str(row["test"]),
        meta={"entry_point": str(row["entry_point"])},
    )


def _humaneval_prompt(item: Item) -> str:
    return prompts.CODE.format(question=item.query, test=item.gold)


def _humaneval_grade(item: Item, code: str | None, completion: str) -> float:
    return passes(code, f"{item.gold}\ncheck({item.meta['entry_point']})")


# --------------------------------------------------------------------- StudentEval
def _studenteval_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    if "test_list" in row:  # the reference's data/studenteval/test.json: MBPP layout (text, test_list)
        item = _mbpp_item(name, {**row, "task_id": row.get("task_id", row.get("id", f"row{row.get('__row__', i)}"))}, i)
        return item
    # wellesley-easel/StudentEval: problem, entrypoint, assertions, prompt, username, ...
    problem = str(row["problem"])
    user = row.get("username")
    qid = f"{problem}/{user}/{row.get('__row__', i)}" if user is not None else f"{problem}/{row.get('__row__', i)}"
    tests = [t for t in str(row["assertions"]).splitlines() if t.strip()]
    return Item(
        benchmark=name,
        query_id=qid,
        query=str(row["prompt"]),
        gold=tests,
        meta={"entry_point": str(row["entrypoint"]), "problem": problem},
    )


_CODE_FORMAT = ("0-shot; the task and its tests (evaluate/{f}:22), no answer format asked; "
                "graded on the first 100 lines' longest parsable code")

MBPP = register(
    BenchmarkSpec(
        name="mbpp",
        suite="paper15",
        answer_kind="code",
        hub=tuple(HubPart("google-research-datasets/mbpp", "full", s) for s in ("train", "test", "validation", "prompt")),
        to_item=_mbpp_item,
        prompt_fn=_mbpp_prompt,
        pipeline="code",
        grade_fn=_mbpp_grade,
        columns=("task_id", "test_list"),
        order_key=_task_number,
        reference_files=("MBPP/test.json",),
        n_items=974,
        n_items_source="all 974 MBPP problems (the full config's 4 splits), per the LLMRouterBench README for the "
                       "same data/MBPP/test.json",
        prompt_format=_CODE_FORMAT.format(f="MBPP/mbpp.py"),
        description="MBPP, all 974 problems, ordered by task_id; pass@1 on the listed asserts.",
        homepage="https://github.com/google-research/google-research/tree/master/mbpp",
    )
)

HUMANEVAL = register(
    BenchmarkSpec(
        name="humaneval",
        suite="paper15",
        answer_kind="code",
        hub=(HubPart("openai/openai_humaneval", None, "test"),),
        to_item=_humaneval_item,
        prompt_fn=_humaneval_prompt,
        pipeline="code",
        grade_fn=_humaneval_grade,
        columns=("task_id", "prompt", "test", "entry_point"),
        local_split=None,
        reference_files=("HumanEval/HumanEval.jsonl",),
        n_items=164,
        n_items_source="HumanEval (evaluate/HumanEval/humaneval.py:39)",
        prompt_format=_CODE_FORMAT.format(f="HumanEval/humaneval.py"),
        description="HumanEval (164 problems): the prompt shows the signature, docstring and check() tests; "
                    "pass@1 with check(entry_point).",
        homepage="https://github.com/openai/human-eval",
    )
)

STUDENTEVAL = register(
    BenchmarkSpec(
        name="studenteval",
        suite="ood5",
        answer_kind="code",
        hub=(HubPart("wellesley-easel/StudentEval", None, "test"),),  # gated: accept its conditions first
        to_item=_studenteval_item,
        prompt_fn=_mbpp_prompt,
        pipeline="code",
        grade_fn=_mbpp_grade,
        reference_files=("studenteval/test.json",),
        n_items=None,
        n_items_source="the reference's data/studenteval/test.json (MBPP layout); its size is not recorded",
        prompt_format=_CODE_FORMAT.format(f="StudentEval/studenteval.py"),
        description="StudentEval: student-written prompts; the reference's MBPP-style file or the Hub rows "
                    "(one item per prompt).",
        homepage="https://huggingface.co/datasets/wellesley-easel/StudentEval",
    )
)
