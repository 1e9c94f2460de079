"""FinQA (paper15): numerical reasoning over a financial report's text and table.

The gold answer is the executed program result (``qa.exe_ans``); a prediction is correct when it
is the gold value rounded to the precision the prediction states (e.g. 250.3 for 250.25; at
least two significant digits), also accepting percentages written as percents for fractional
gold answers (5.6% vs 0.056) and the reverse. yes/no answers are compared as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from avengers.generate.benchmarks.base import BenchmarkSpec, Item, register
from avengers.generate.benchmarks.common import (
    BOXED_INSTRUCTION,
    as_dict,
    as_list,
    extract_math,
    norm_text,
    parse_number,
    pick,
)


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v.strip()
    return " ".join(str(x).strip() for x in as_list(v) if str(x).strip() not in ("", "."))


def _table(v: Any) -> str:
    rows = as_list(v)
    lines = []
    for r in rows:
        cells = [str(c).strip() for c in as_list(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _finqa_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # czyssrs/FinQA json: id, pre_text[], post_text[], table[[...]], qa {question, exe_ans, answer, program}
    # dreamerdeo/finqa: id, pre_text, post_text, question, answers, table
    qa = as_dict(row["qa"]) if row.get("qa") is not None else {}
    question = str(pick(qa, "question", default=None) or pick(row, "question")).strip()
    gold: Any = pick(qa, "exe_ans", "answer", default=None)
    if gold is None:
        gold = pick(row, "exe_ans", "answer", "answers", "final_result")
    if isinstance(gold, float) and math.isnan(gold):
        raise ValueError("missing answer")
    parts = []
    pre, post = _text(row.get("pre_text", "")), _text(row.get("post_text", ""))
    if pre:
        parts.append(pre)
    if row.get("table") is not None:
        parts.append("Table:\n" + _table(row["table"]))
    if post:
        parts.append(post)
    context = "\n\n".join(parts)
    query = f"{context}\n\nQuestion: {question}" if context else question
    return Item(
        benchmark=name,
        query_id=str(pick(row, "id", default=f"row{row.get('__row__', i)}")),
        query=query,
        gold=gold if isinstance(gold, (int, float)) and not isinstance(gold, bool) else str(gold).strip(),
        meta={"question": question, "program": qa.get("program", row.get("program"))},
    )


def _finqa_prompt(item: Item) -> str:
    return (
        f"{BOXED_INSTRUCTION} Give a number (without units); for yes/no questions answer yes "
        f"or no.\n\n{item.query}"
    )


def _finqa_extract(completion: str, item: Item) -> str | None:
    return extract_math(completion)


def _decimals(s: str) -> int:
    m = re.search(r"\.(\d+)", s)
    return len(m.group(1)) if m else 0


def _sig_digits(s: str) -> int:
    digits = re.sub(r"\D", "", s.split("e")[0].split("E")[0]).lstrip("0")
    return len(digits)


def finqa_equal(pred: str | None, gold: Any) -> bool:
    """A prediction is right when it is the gold value rounded to the precision the prediction
    states (at least 2 significant digits), also across the percent / fraction scale."""
    if pred is None:
        return False
    g = parse_number(gold)
    if g is None:
        return norm_text(pred) == norm_text(gold)
    p = parse_number(pred)
    if p is None:
        return False
    text = str(pred).strip()
    pct = text.rstrip(".").endswith("%") or "\\%" in text
    raw = p * 100.0 if pct else p  # the number as written ('5.6%' -> 5.6)
    num = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    shown = num.group(0).replace(",", "") if num else text
    tol = 0.5 * 10.0 ** (-_decimals(shown)) * (1 + 1e-9)
    exact = any(math.isclose(c, g, rel_tol=1e-4, abs_tol=1e-9) for c in (p, raw / 100.0, raw * 100.0))
    if exact:
        return True
    if _sig_digits(shown) < 2:
        return False
    for written, scale in ((raw, 1.0), (raw, 100.0), (raw, 0.01)):
        # the written number vs gold expressed on the same scale
        if abs(written - g * scale) <= tol:
            return True
    return False


def _finqa_grade(item: Item, extracted: str | None, completion: str) -> float:
    return 1.0 if finqa_equal(extracted, item.gold) else 0.0


FINQA = register(
    BenchmarkSpec(
        name="finqa",
        suite="paper15",
        answer_kind="number",
        hf_id="dreamerdeo/finqa",
        hf_revision="main",
        hf_config=None,
        hf_split="test",
        to_item=_finqa_item,
        prompt_fn=_finqa_prompt,
        extract_fn=_finqa_extract,
        grade_fn=_finqa_grade,
        description="FinQA test set (1,147 questions); numeric answers with 1% tolerance.",
        homepage="https://github.com/czyssrs/FinQA",
    )
)
