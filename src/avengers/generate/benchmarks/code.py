"""Code generation: MBPP, HumanEval (paper15) and StudentEval (ood5).

The extracted answer is the model's Python code (last fenced code block that defines the
function); the grade is 1 when the benchmark's tests pass in :mod:`avengers.generate.sandbox`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from avengers.generate.benchmarks.base import BenchmarkSpec, Item, register
from avengers.generate.benchmarks.common import as_list, pick
from avengers.generate.sandbox import SandboxLimits, run_tests

#: limits for grading one completion; tests of these benchmarks run in well under a second
CODE_LIMITS = SandboxLimits(timeout=10.0, memory_mb=1024, max_processes=16, max_file_mb=16)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """The last fenced block defining ``entry_point`` (else the last python block, else the
    text from its first ``def``/``import`` line when there is no fence)."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    blocks = [(lang, body) for lang, body in blocks if body.strip()]
    if blocks:
        if entry_point:
            for lang, body in reversed(blocks):
                if re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", body):
                    return body.rstrip()
        for lang, body in reversed(blocks):
            if lang in ("python", "py", "python3", "") and ("def " in body or "return" in body):
                return body.rstrip()
        return blocks[-1][1].rstrip()
    m = re.search(r"^(?:def |import |from |class |@)", text, re.M)
    if m:
        return text[m.start() :].rstrip()
    return None


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.M) is not None


def _complete_function(prompt: str, code: str, entry_point: str) -> str:
    """A program from a completion-style prompt (signature + docstring) and the model's code."""
    if _defines(code, entry_point):
        m = re.search(rf"^def\s+{re.escape(entry_point)}\s*\(", prompt, re.M)
        header = prompt[: m.start()] if m else ""
        return f"{header}\n{code}\n"
    body = code
    first = next((ln for ln in body.splitlines() if ln.strip()), "")
    if first and not first[0].isspace():
        body = "\n".join(("    " + ln) if ln.strip() else ln for ln in body.splitlines())
    return f"{prompt.rstrip()}\n{body}\n"


# --------------------------------------------------------------------------- MBPP
def _mbpp_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # google-research-datasets/mbpp full: task_id, text, code, test_list, test_setup_code,
    # challenge_test_list; sanitized: source_file, task_id, prompt, code, test_imports, test_list
    text = str(pick(row, "text", "prompt")).strip()
    tests = [str(t) for t in as_list(row["test_list"])]
    setup = str(row.get("test_setup_code") or "")
    imports = [str(x) for x in as_list(row.get("test_imports"))]
    setup = "\n".join([*imports, setup]).strip()
    m = re.match(r"\s*assert\s+(?:not\s+)?\(?\s*(?:set\()?\s*(?:math\.isclose\()?\s*([A-Za-z_]\w*)\s*\(", tests[0]) if tests else None
    return Item(
        benchmark=name,
        query_id=str(row["task_id"]),
        query=text,
        gold=tests,
        meta={"setup": setup, "entry_point": m.group(1) if m else None},
    )


def _mbpp_prompt(item: Item) -> str:
    tests = "\n".join(item.gold)
    return (
        "You are an expert Python programmer, and here is your task:\n"
        f"{item.query}\n\nYour code should pass these tests:\n\n{tests}\n\n"
        "Think step by step if needed, then write the complete solution (with any imports it "
        "needs) in a single ```python code block."
    )


def _mbpp_extract(completion: str, item: Item) -> str | None:
    return extract_code(completion, item.meta.get("entry_point"))


def _mbpp_grade(item: Item, extracted: str | None, completion: str) -> float:
    if not extracted:
        return 0.0
    # the benchmark's setup (imports, helper classes) is trusted: it runs beside the tests too
    setup = item.meta.get("setup") or ""
    return 1.0 if run_tests(extracted, "\n".join(item.gold), CODE_LIMITS, setup=setup).passed else 0.0


# ---------------------------------------------------------------------- HumanEval
def _humaneval_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # openai/openai_humaneval: task_id, prompt, canonical_solution, test, entry_point
    return Item(
        benchmark=name,
        query_id=str(row["task_id"]),
        query=str(row["prompt"]),
        gold=str(row["test"]),
        meta={"entry_point": str(row["entry_point"]), "prompt": str(row["prompt"])},
    )


def _complete_prompt(item: Item) -> str:
    return (
        "Complete the following Python function. Think step by step if needed, then write the "
        "complete function (signature included, with any imports it needs) in a single "
        f"```python code block.\n\n```python\n{item.meta['prompt'].rstrip()}\n```"
    )


def _complete_extract(completion: str, item: Item) -> str | None:
    return extract_code(completion, item.meta["entry_point"])


def _humaneval_grade(item: Item, extracted: str | None, completion: str) -> float:
    if not extracted:
        return 0.0
    ep = item.meta["entry_point"]
    program = _complete_function(item.meta["prompt"], extracted, ep)
    tests = f"{item.gold}\n\ncheck({ep})\n"
    return 1.0 if run_tests(program, tests, CODE_LIMITS).passed else 0.0


# --------------------------------------------------------------------- StudentEval
def _studenteval_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    if "test_list" in row:  # MBPP-style layout (the paper's converted file): text + test_list
        item = _mbpp_item(name, {**row, "task_id": row.get("task_id", row.get("id", f"row{row.get('__row__', i)}"))}, i)
        return Item(item.benchmark, item.query_id, item.query, item.gold, {**item.meta, "style": "mbpp"})
    # wellesley-easel/StudentEval: problem, entrypoint, assertions, prompt, username,
    # submitted_text, first_attempt, last_attempt, is_success, ...
    problem = str(row["problem"])
    user = row.get("username")
    qid = f"{problem}/{user}/{row.get('__row__', i)}" if user is not None else f"{problem}/{row.get('__row__', i)}"
    prompt = str(row["prompt"])
    return Item(
        benchmark=name,
        query_id=qid,
        query=prompt,
        gold=str(row["assertions"]),
        meta={"entry_point": str(row["entrypoint"]), "prompt": prompt, "problem": problem, "style": "complete"},
    )


def _studenteval_prompt(item: Item) -> str:
    return _mbpp_prompt(item) if item.meta.get("style") == "mbpp" else _complete_prompt(item)


def _studenteval_extract(completion: str, item: Item) -> str | None:
    return extract_code(completion, item.meta.get("entry_point"))


def _studenteval_grade(item: Item, extracted: str | None, completion: str) -> float:
    if item.meta.get("style") == "mbpp":
        return _mbpp_grade(item, extracted, completion)
    if not extracted:
        return 0.0
    program = _complete_function(item.meta["prompt"], extracted, item.meta["entry_point"])
    return 1.0 if run_tests(program, str(item.gold), CODE_LIMITS).passed else 0.0


MBPP = register(
    BenchmarkSpec(
        name="mbpp",
        suite="paper15",
        answer_kind="code",
        hf_id="google-research-datasets/mbpp",
        hf_revision="main",
        hf_config="full",
        hf_split="test",
        to_item=_mbpp_item,
        prompt_fn=_mbpp_prompt,
        extract_fn=_mbpp_extract,
        grade_fn=_mbpp_grade,
        columns=("task_id", "test_list"),
        description="MBPP (500 test problems of the full config; 'sanitized' rows load too).",
        homepage="https://github.com/google-research/google-research/tree/master/mbpp",
    )
)

HUMANEVAL = register(
    BenchmarkSpec(
        name="humaneval",
        suite="paper15",
        answer_kind="code",
        hf_id="openai/openai_humaneval",
        hf_revision="main",
        hf_config=None,
        hf_split="test",
        to_item=_humaneval_item,
        prompt_fn=_complete_prompt,
        extract_fn=_complete_extract,
        grade_fn=_humaneval_grade,
        columns=("task_id", "prompt", "test", "entry_point"),
        description="HumanEval (164 problems), pass@1 with the official check() tests.",
        homepage="https://github.com/openai/human-eval",
    )
)

STUDENTEVAL = register(
    BenchmarkSpec(
        name="studenteval",
        suite="ood5",
        answer_kind="code",
        hf_id="wellesley-easel/StudentEval",  # gated: accept the conditions on the Hub first
        hf_revision="main",
        hf_config=None,
        hf_split="test",
        to_item=_studenteval_item,
        prompt_fn=_studenteval_prompt,
        extract_fn=_studenteval_extract,
        grade_fn=_studenteval_grade,
        description="StudentEval: student-written prompts for 48 problems; one item per prompt.",
        homepage="https://huggingface.co/datasets/wellesley-easel/StudentEval",
    )
)
