"""Multiple-choice benchmarks: ARC-Challenge, MMLU-Pro, GPQA, MedQA (paper15); Winogrande and
BrainTeaser (ood5).

Prompted for a chain of thought ending in 'Answer: $LETTER'; graded by letter match.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any, Mapping

from avengers.generate.benchmarks.base import BenchmarkSpec, Item, register
from avengers.generate.benchmarks.common import (
    LETTERS,
    as_dict,
    as_list,
    extract_choice,
    format_options,
    letter_of,
    mc_prompt,
    pick,
)


def _mc_item(name: str, qid: Any, question: str, options: list[str], gold: str, **meta: Any) -> Item:
    question = str(question).strip()
    options = [str(o).strip() for o in options]
    if len(options) < 2 or len(options) > len(LETTERS):
        raise ValueError(f"expected 2..26 options, got {len(options)}")
    if gold not in LETTERS[: len(options)]:
        raise ValueError(f"gold letter {gold!r} is not among the {len(options)} options")
    return Item(
        benchmark=name,
        query_id=str(qid),
        query=f"{question}\n\n{format_options(options)}",
        gold=gold,
        meta={"question": question, "options": options, **meta},
    )


def mc_prompt_fn(item: Item) -> str:
    return mc_prompt(item.meta["question"], item.meta["options"])


def mc_extract(completion: str, item: Item) -> str | None:
    return extract_choice(completion, len(item.meta["options"]))


def mc_grade(item: Item, extracted: str | None, completion: str) -> float:
    return 1.0 if extracted is not None and extracted.strip().upper() == item.gold else 0.0


def _row_id(row: Mapping[str, Any], i: int) -> str:
    return f"row{row.get('__row__', i)}"


# --------------------------------------------------------------------------- ARC
def _arc_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # allenai/ai2_arc: id, question, choices {text: [...], label: [...]}, answerKey
    choices = as_dict(row["choices"])
    texts = [str(t) for t in as_list(choices["text"])]
    labels = [str(x) for x in as_list(choices["label"])]
    gold = LETTERS[labels.index(str(row["answerKey"]).strip())]
    return _mc_item(name, row.get("id", _row_id(row, i)), row["question"], texts, gold, labels=labels)


# ---------------------------------------------------------------------- MMLU-Pro
def _mmlu_pro_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # TIGER-Lab/MMLU-Pro: question_id, question, options, answer, answer_index, category, src
    options = [str(o) for o in as_list(row["options"]) if str(o).strip() not in ("", "N/A")]
    if row.get("answer_index") not in (None, ""):
        gold = letter_of(int(row["answer_index"]), len(options))
    else:
        gold = letter_of(row["answer"], len(options))
    return _mc_item(
        name, pick(row, "question_id", default=_row_id(row, i)), row["question"], options, gold,
        category=row.get("category"),
    )


# -------------------------------------------------------------------------- GPQA
def _gpqa_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # Idavidrein/gpqa (gpqa_diamond): Question, Correct Answer, Incorrect Answer 1..3, Record ID
    qid = pick(row, "Record ID", "id", default=_row_id(row, i))
    correct = str(row["Correct Answer"]).strip()
    options = [correct] + [str(row[f"Incorrect Answer {k}"]).strip() for k in (1, 2, 3)]
    # a fixed, per-question shuffle so that the gold letter is not always A
    seed = int.from_bytes(hashlib.sha256(str(qid).encode()).digest()[:8], "big")
    order = list(range(4))
    random.Random(seed).shuffle(order)
    shuffled = [options[k] for k in order]
    gold = LETTERS[order.index(0)]
    return _mc_item(name, qid, row["Question"], shuffled, gold, domain=row.get("High-level domain"))


# ------------------------------------------------------------------------- MedQA
def _medqa_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # GBaker/MedQA-USMLE-4-options: question, answer (text), options {A: ..}, meta_info, answer_idx
    raw = row["options"]
    if isinstance(raw, (list, tuple)) or (isinstance(raw, str) and raw.strip().startswith("[")):
        items = as_list(raw)
        if items and isinstance(items[0], Mapping):  # [{key: A, value: ...}]
            opts = {str(o["key"]): str(o["value"]) for o in items}
        else:
            opts = {LETTERS[k]: str(v) for k, v in enumerate(items)}
    else:
        opts = {str(k): str(v) for k, v in as_dict(raw).items()}
    keys = sorted(opts)
    if keys != list(LETTERS[: len(keys)]):
        raise ValueError(f"option keys {keys} are not A, B, C, ...")
    options = [opts[k] for k in keys]
    if row.get("answer_idx"):
        gold = letter_of(row["answer_idx"], len(options))
    else:
        ans = str(row["answer"]).strip()
        gold = ans.upper() if ans.upper() in keys else keys[[o.strip() for o in options].index(ans)]
    qid = pick(row, "id", default=_row_id(row, i))
    return _mc_item(name, qid, row["question"], options, gold, meta_info=row.get("meta_info"))


# -------------------------------------------------------------------- Winogrande
def _winogrande_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    # allenai/winogrande: sentence, option1, option2, answer ("1" | "2"); jsonl also has qID
    answer = str(row["answer"]).strip()
    if answer not in ("1", "2"):
        raise ValueError(f"answer must be '1' or '2', got {answer!r} (the test split has no labels)")
    question = (
        "Which option correctly fills the blank (_) in the sentence?\n\n" + str(row["sentence"]).strip()
    )
    return _mc_item(
        name, pick(row, "qID", "id", default=_row_id(row, i)), question,
        [row["option1"], row["option2"]], "A" if answer == "1" else "B", answer_option=answer,
    )


# ------------------------------------------------------------------- BrainTeaser
def _brainteaser_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    q = row["question"]
    if isinstance(q, Mapping) or (isinstance(q, str) and q.strip().startswith("{")):
        # RiddleSense / CommonsenseQA layout (rs_dev.jsonl of the BrainTeaser repo, used by the paper):
        # {id, question: {stem, choices: [{label, text}]}, answerKey}
        q = as_dict(q)
        choices = [as_dict(c) for c in as_list(q["choices"])]
        labels = [str(c["label"]) for c in choices]
        texts = [str(c["text"]) for c in choices]
        gold = LETTERS[labels.index(str(row["answerKey"]).strip())]
        return _mc_item(name, row.get("id", _row_id(row, i)), q["stem"], texts, gold)
    # SemEval-2024 Task 9 layout (tasksource/brainteasers SP): id, question, choice_list, label
    texts = [str(c) for c in as_list(row["choice_list"])]
    gold = letter_of(int(row["label"]), len(texts))
    return _mc_item(name, row.get("id", _row_id(row, i)), q, texts, gold)


def _spec(name: str, suite: str, to_item, hf_id, config, split, desc, home, columns=(), revision="main"):
    return register(
        BenchmarkSpec(
            name=name,
            suite=suite,
            answer_kind="choice",
            hf_id=hf_id,
            hf_revision=revision if hf_id else None,
            hf_config=config,
            hf_split=split,
            to_item=to_item,
            prompt_fn=mc_prompt_fn,
            extract_fn=mc_extract,
            grade_fn=mc_grade,
            columns=columns,
            description=desc,
            homepage=home,
        )
    )


ARC_CHALLENGE = _spec(
    "arc_challenge", "paper15", _arc_item, "allenai/ai2_arc", "ARC-Challenge", "test",
    "AI2 Reasoning Challenge, challenge set (grade-school science, 4-5 options).",
    "https://allenai.org/data/arc", columns=("question", "choices", "answerKey"),
)
MMLU_PRO = _spec(
    "mmlu_pro", "paper15", _mmlu_pro_item, "TIGER-Lab/MMLU-Pro", None, "test",
    "MMLU-Pro: 14 subjects, up to 10 options.", "https://github.com/TIGER-AI-Lab/MMLU-Pro",
    columns=("question", "options"),
)
GPQA = _spec(
    "gpqa", "paper15", _gpqa_item, "Idavidrein/gpqa", "gpqa_diamond", "train",
    "GPQA Diamond (198 questions; gated on the Hub). Options are shuffled per question, seeded "
    "by its Record ID.", "https://github.com/idavidrein/gpqa",
    columns=("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"),
)
MEDQA = _spec(
    "medqa", "paper15", _medqa_item, "GBaker/MedQA-USMLE-4-options", None, "test",
    "MedQA (USMLE, 4 options).", "https://github.com/jind11/MedQA",
    columns=("question", "options"),
)
WINOGRANDE = _spec(
    "winogrande", "ood5", _winogrande_item, "allenai/winogrande", "winogrande_xl", "validation",
    "WinoGrande (validation: the test split has no labels); options 1/2 shown as A/B.",
    "https://winogrande.allenai.org", columns=("sentence", "option1", "option2", "answer"),
)
BRAINTEASER = _spec(
    "brainteaser", "ood5", _brainteaser_item, "tasksource/brainteasers", "SP", "train",
    "BrainTeaser sentence puzzles (SemEval-2024 Task 9 layout); the RiddleSense-style "
    "rs_dev.jsonl the paper used is read too.", "https://github.com/1171-jpg/BrainTeaser",
    columns=("question",),
)
