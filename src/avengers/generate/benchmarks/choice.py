"""Multiple-choice benchmarks: ARC-Challenge, MMLU-Pro, GPQA, MedQA (paper15); Winogrande and
BrainTeaser (ood5).

Prompted as the reference does (a 0-shot question, lettered options, last line 'Answer:
$LETTER'); graded by the `choice` answer pipeline: the letter of the reference's answer-line
pattern (its letter range is per benchmark, `answer_letters`) against the gold letter.
Item options are kept as {letter: text} in `meta["options"]`.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, Mapping

from avengers.generate.benchmarks import prompts
from avengers.generate.benchmarks.base import BenchmarkSpec, HubPart, Item, register
from avengers.generate.benchmarks.common import LETTERS, as_dict, as_list, lettered, letter_of, pick


def _mc_item(name: str, qid: Any, question: str, options: dict[str, str], gold: str, letters: str,
             sep: str = ". ", **meta: Any) -> Item:
    question = str(question).strip()
    if len(options) < 2:
        raise ValueError(f"expected at least 2 options, got {len(options)}")
    if gold not in options:
        raise ValueError(f"gold letter {gold!r} is not among the options {list(options)}")
    return Item(
        benchmark=name,
        query_id=str(qid),
        query=f"{question}\n\n{prompts.options_block(options)}",
        gold=gold,
        meta={"question": question, "options": options, "answer_letters": letters, "option_sep": sep, **meta},
    )


def choice_prompt(item: Item) -> str:
    opts = item.meta["options"]
    return prompts.CHOICE.format(candidates="".join(opts), question=item.meta["question"],
                                 options=prompts.options_block(opts, item.meta.get("option_sep", ". ")))


def _row_id(row: Mapping[str, Any], i: int) -> str:
    return f"row{row.get('__row__', i)}"


# --------------------------------------------------------------------------- ARC
def _arc_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # allenai/ai2_arc and the reference's data/arc_c/arc_test.json: id, question,
    # choices {text: [...], label: [...]}, answerKey
    choices = as_dict(row["choices"])
    texts = [str(t) for t in as_list(choices["text"])]
    labels = [str(x) for x in as_list(choices["label"])]
    if len(texts) not in (3, 4, 5):  # the reference has prompts for 3, 4 and 5 options only
        raise ValueError(f"ARC question with {len(texts)} options")
    # shown as A), B), ... by position; the gold is the letter of answerKey's position (the
    # reference compares the letter with answerKey itself, so items labelled 1-4 never score)
    gold = LETTERS[labels.index(str(row["answerKey"]).strip())]
    return _mc_item(name, row.get("id", _row_id(row, i)), row["question"], lettered(texts), gold, "A-E",
                    sep=") ", labels=labels)


# ---------------------------------------------------------------------- MMLU-Pro
def _mmlu_pro_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # TIGER-Lab/MMLU-Pro: question_id, question, options [...], answer, answer_index, category, src;
    # the reference's data/MMLUPro/test.json keeps options as {"A": ...}
    raw = row["options"]
    if isinstance(raw, Mapping) or (isinstance(raw, str) and raw.strip().startswith("{")):
        options = lettered(as_dict(raw))
    else:
        options = lettered([o for o in as_list(raw) if str(o).strip() not in ("", "N/A")])
    if row.get("answer") not in (None, "") and str(row["answer"]).strip().upper() in options:
        gold = str(row["answer"]).strip().upper()
    else:
        gold = letter_of(int(row["answer_index"]), len(options))
    return _mc_item(name, pick(row, "question_id", default=_row_id(row, i)), row["question"], options, gold, "A-J",
                    subject=str(row.get("category") or ""))


def _mmlu_pro_prompt(item: Item) -> str:
    opts = item.meta["options"]
    return prompts.MMLU_PRO.format(subject=item.meta["subject"], candidates="".join(opts),
                                   question=item.meta["question"], options=prompts.options_block(opts))


# -------------------------------------------------------------------------- GPQA
def _gpqa_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    domain = row.get("High-level domain")
    if "options" in row and "question" in row:  # the reference's data/GPQA/gpqa_main.json
        options = lettered(as_dict(row["options"]))
        qid = pick(row, "Record ID", "id", default=_row_id(row, i))
        return _mc_item(name, qid, row["question"], options, str(row["answer"]).strip(), "A-D", domain=domain)
    # Idavidrein/gpqa (gpqa_main): Question, Correct Answer, Incorrect Answer 1..3, Record ID
    qid = pick(row, "Record ID", "id", default=_row_id(row, i))
    correct = str(row["Correct Answer"]).strip()
    texts = [correct] + [str(row[f"Incorrect Answer {k}"]).strip() for k in (1, 2, 3)]
    # a fixed, per-question shuffle so that the gold letter is not always A
    seed = int.from_bytes(hashlib.sha256(str(qid).encode()).digest()[:8], "big")
    order = list(range(4))
    random.Random(seed).shuffle(order)
    gold = LETTERS[order.index(0)]
    return _mc_item(name, qid, row["Question"], lettered([texts[k] for k in order]), gold, "A-D", domain=domain)


# ------------------------------------------------------------------------- MedQA
def _medqa_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # GBaker/MedQA-USMLE-4-options and the reference's data/MedQA/test.json: question,
    # options {A: ..}, answer (text or letter), answer_idx
    raw = row["options"]
    if isinstance(raw, (list, tuple)) or (isinstance(raw, str) and raw.strip().startswith("[")):
        items = as_list(raw)
        if items and isinstance(items[0], Mapping):  # [{key: A, value: ...}]
            options = {str(o["key"]): str(o["value"]).strip() for o in items}
        else:
            options = lettered(items)
    else:
        options = lettered(as_dict(raw))
    if row.get("answer_idx"):
        gold = str(row["answer_idx"]).strip().upper()
    else:
        ans = str(row["answer"]).strip()
        gold = ans.upper() if ans.upper() in options else next(k for k, v in options.items() if v == ans)
    return _mc_item(name, pick(row, "id", default=_row_id(row, i)), row["question"], options, gold, "A-D")


# -------------------------------------------------------------------- Winogrande
def _winogrande_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # allenai/winogrande and the reference's data/winogrande/valid.json: sentence, option1, option2, answer
    answer = str(row["answer"]).strip()
    if answer not in ("1", "2"):
        raise ValueError(f"answer must be '1' or '2', got {answer!r} (the test split has no labels)")
    sentence = str(row["sentence"]).strip()
    item = _mc_item(name, pick(row, "qID", "id", default=_row_id(row, i)), sentence,
                    {"A": str(row["option1"]), "B": str(row["option2"])}, "A" if answer == "1" else "B", "A-B")
    return Item(item.benchmark, item.query_id, item.query, item.gold, {**item.meta, "sentence": sentence})


def _winogrande_prompt(item: Item) -> str:
    o = item.meta["options"]
    return prompts.WINOGRANDE.format(sentence=item.meta["sentence"], option1=o["A"], option2=o["B"])


# ------------------------------------------------------------------- BrainTeaser
def _brainteaser_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    q = row["question"]
    if isinstance(q, Mapping) or (isinstance(q, str) and q.strip().startswith("{")):
        # RiddleSense layout, rs_dev.jsonl, what the reference reads (evaluate/BrainTeaser/brainteaser.py:37):
        # {id, question: {stem, choices: [{label, text}]}, answerKey}
        q = as_dict(q)
        choices = [as_dict(c) for c in as_list(q["choices"])]
        options = {str(c["label"]): str(c["text"]).strip() for c in choices}
        return _mc_item(name, row.get("id", _row_id(row, i)), q["stem"], options, str(row["answerKey"]).strip(),
                        "A-E", sep=") ")
    # SemEval-2024 Task 9 layout (BrainTeaser sentence puzzles): id, question, choice_list, label
    texts = [str(c) for c in as_list(row["choice_list"])]
    return _mc_item(name, row.get("id", _row_id(row, i)), q, lettered(texts), letter_of(int(row["label"]), len(texts)),
                    "A-E", sep=") ")


_CHOICE_FORMAT = "0-shot; options '{sep}', last line 'Answer: $LETTER' ({where})"

ARC_CHALLENGE = register(BenchmarkSpec(
    name="arc_challenge", suite="paper15", answer_kind="choice",
    hub=(HubPart("allenai/ai2_arc", "ARC-Challenge", "test"),),
    to_item=_arc_item, prompt_fn=choice_prompt, pipeline="choice",
    columns=("question", "choices", "answerKey"),
    reference_files=("arc_c/arc_test.json",), n_items=1172,
    n_items_source="ARC-Challenge test (evaluate/ARCC/arcc.py:62 reads arc_test.json)",
    prompt_format=_CHOICE_FORMAT.format(sep="A) ...", where="evaluate/ARCC/arcc.py:20-51"),
    description="AI2 Reasoning Challenge, challenge set (grade-school science, 3-5 options).",
    homepage="https://allenai.org/data/arc",
))
MMLU_PRO = register(BenchmarkSpec(
    name="mmlu_pro", suite="paper15", answer_kind="choice",
    hub=(HubPart("TIGER-Lab/MMLU-Pro", None, "test"),),
    to_item=_mmlu_pro_item, prompt_fn=_mmlu_pro_prompt, pipeline="choice",
    columns=("question", "options"),
    reference_files=("MMLUPro/test.json",), n_items=1000,
    n_items_source="the reference's data/MMLUPro/test.json (evaluate/MMLUPro/mmlupro.py:40), a 1,000-question "
                   "subset per the LLMRouterBench README; which 1,000 is not in the code: read that file to get it",
    prompt_format="0-shot; 'Answer the following {subject} question', options 'A. ...', last line 'Answer: $LETTER' "
                  "(evaluate/MMLUPro/mmlupro.py:20)",
    description="MMLU-Pro: 14 subjects, up to 10 options; the subject (category) is named in the prompt.",
    homepage="https://github.com/TIGER-AI-Lab/MMLU-Pro",
))
GPQA = register(BenchmarkSpec(
    name="gpqa", suite="paper15", answer_kind="choice",
    hub=(HubPart("Idavidrein/gpqa", "gpqa_main", "train"),),  # gated: accept its conditions first
    to_item=_gpqa_item, prompt_fn=choice_prompt, pipeline="choice",
    local_split=None,
    reference_files=("GPQA/gpqa_main.json",), n_items=448,
    n_items_source="GPQA main (evaluate/GPQA/gpqa.py:37 reads gpqa_main.json, not diamond)",
    prompt_format=_CHOICE_FORMAT.format(sep="A. ...", where="evaluate/GPQA/gpqa.py:20"),
    description="GPQA main (448 questions). Hub rows: options shuffled per question, seeded by its Record ID; "
                "the reference's file brings its own option order.",
    homepage="https://github.com/idavidrein/gpqa",
))
MEDQA = register(BenchmarkSpec(
    name="medqa", suite="paper15", answer_kind="choice",
    hub=(HubPart("GBaker/MedQA-USMLE-4-options", None, "test"),),
    to_item=_medqa_item, prompt_fn=choice_prompt, pipeline="choice",
    columns=("question", "options"),
    reference_files=("MedQA/test.json",), n_items=1273,
    n_items_source="MedQA USMLE 4-option test (evaluate/MedQA/medqa.py:37)",
    prompt_format=_CHOICE_FORMAT.format(sep="A. ...", where="evaluate/MedQA/medqa.py:20"),
    description="MedQA (USMLE, 4 options).", homepage="https://github.com/jind11/MedQA",
))
WINOGRANDE = register(BenchmarkSpec(
    name="winogrande", suite="ood5", answer_kind="choice",
    hub=(HubPart("allenai/winogrande", "winogrande_xl", "validation"),),
    to_item=_winogrande_item, prompt_fn=_winogrande_prompt, pipeline="choice",
    columns=("sentence", "option1", "option2", "answer"), local_split=None,
    reference_files=("winogrande/valid.json",), n_items=1267,
    n_items_source="WinoGrande validation (evaluate/Winogrande/winogrande.py:46 reads valid.json)",
    prompt_format="0-shot cloze; options A/B, last line 'Answer: $LETTER' (evaluate/Winogrande/winogrande.py:20)",
    description="WinoGrande (validation: the test split has no labels).", homepage="https://winogrande.allenai.org",
))
BRAINTEASER = register(BenchmarkSpec(
    name="brainteaser", suite="ood5", answer_kind="choice",
    hub=(),  # the reference reads RiddleSense's rs_dev.jsonl: set a local path
    to_item=_brainteaser_item, prompt_fn=choice_prompt, pipeline="choice",
    columns=("question",), local_split=None,
    reference_files=("BrainTeaser/rs_dev.jsonl",), n_items=1021,
    n_items_source="evaluate/BrainTeaser/brainteaser.py:37 reads rs_dev.jsonl (RiddleSense dev, 1,021 riddles)",
    prompt_format=_CHOICE_FORMAT.format(sep="A) ...", where="evaluate/BrainTeaser/brainteaser.py:20"),
    description="Riddles in the RiddleSense layout (rs_dev.jsonl), what the reference calls BrainTeaser; "
                "SemEval-2024 BrainTeaser rows (choice_list, label) load too.",
    homepage="https://inklab.usc.edu/RiddleSense/",
))
