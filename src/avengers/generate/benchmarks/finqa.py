"""FinQA (paper15): numerical reasoning over a financial report's text and table.

As the reference evaluates it (evaluate/FinQA/finqa.py): the report's text and table in one
question (finqa.py:78-89), the final answer in `\\boxed{}`; the gold is the dataset's written
`answer` (e.g. "14.1%"), not the executed program result `exe_ans`; graded by the `finqa`
pipeline (math equality, else the first numbers rounded to integers agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from avengers.generate.benchmarks import prompts
from avengers.generate.benchmarks.base import BenchmarkSpec, HubPart, Item, register
from avengers.generate.benchmarks.common import as_dict, as_list, pick


def _table(v: Any) -> str:
    """The reference's `list_to_simple_table`: one '| a | b |' line per row."""
    rows = as_list(v)
    if not rows:
        return "Invalid table data"
    return "".join("| " + " | ".join(str(c).strip() for c in as_list(r)) + " |\n" for r in rows)


def _finqa_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # czyssrs/FinQA json: id, pre_text[], post_text[], table[[...]], qa {question, answer, exe_ans, program};
    # ibm/finqa and the reference's data/FinQA/test.json: the same with question / answer at the top
    qa = as_dict(row["qa"]) if row.get("qa") is not None else {}
    question = str(qa.get("question") or pick(row, "question")).strip()
    gold = qa.get("answer") if qa.get("answer") not in (None, "") else row.get("answer")
    gold_field = "answer"
    if gold in (None, ""):  # releases without the written answer: the executed result
        gold = pick(qa, "exe_ans", default=None)
        gold = pick(row, "exe_ans", "final_result", default=None) if gold is None else gold
        gold_field = "exe_ans"
    if gold is None:
        raise ValueError("no answer (neither 'answer' nor 'exe_ans')")
    pre = "".join(str(x) for x in as_list(row.get("pre_text")))  # joined without spaces, as the reference
    post = "".join(str(x) for x in as_list(row.get("post_text")))
    context = (f"{pre}\n\nHere is the table:\n{_table(row.get('table'))}\n\n{post}\n\n"
               f"Based on the content and the table, please answer the following question: {question}\n")
    return Item(
        benchmark=name,
        query_id=str(pick(row, "id", default=f"row{row.get('__row__', i)}")),
        query=context,
        gold=str(gold).strip(),
        meta={"question": question, "gold_field": gold_field},
    )


def _finqa_prompt(item: Item) -> str:
    return prompts.FINQA.replace("{Question}", item.query)


FINQA = register(
    BenchmarkSpec(
        name="finqa",
        suite="paper15",
        answer_kind="number",
        hub=(HubPart("ibm/finqa", None, "test"),),
        to_item=_finqa_item,
        prompt_fn=_finqa_prompt,
        pipeline="finqa",
        reference_files=("FinQA/test.json",),
        n_items=1147,
        n_items_source="FinQA test (evaluate/FinQA/finqa.py:46 reads test.json)",
        prompt_format="0-shot; text, '| a | b |' table and question, final answer in \\boxed{} (evaluate/FinQA/finqa.py:30)",
        description="FinQA test set (1,147 questions); gold = the written answer, lenient numeric match.",
        homepage="https://github.com/czyssrs/FinQA",
    )
)
