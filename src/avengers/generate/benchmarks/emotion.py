"""Emotion recognition in conversation: EmoryNLP, MELD (paper15) and DailyDialog (ood5).

One item per utterance: the dialogue so far is the context, the model picks the utterance's
emotion from the dataset's label set (shown as lettered options), and the grade is a label
match. Loaders read the published layouts (MELD / EmoryNLP csv, the EmoryNLP json, the
DailyDialog Hub rows) and the already-expanded layout of the paper's code
(``history``, ``utterance``, ``candidate`` {letter: label}, ``answer`` letter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from avengers.generate.benchmarks.base import BenchmarkSpec, Item, register
from avengers.generate.benchmarks.common import LETTERS, answer_line, as_dict, as_list, pick, strip_markup

EMORYNLP_LABELS = ("Joyful", "Mad", "Neutral", "Peaceful", "Powerful", "Sad", "Scared")
MELD_LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
DAILYDIALOG_LABELS = ("no emotion", "anger", "disgust", "fear", "happiness", "sadness", "surprise")

MAX_HISTORY = 12  # previous utterances shown as context


def _speaker(v: Any) -> str:
    items = [str(s).strip() for s in as_list(v) if str(s).strip()]
    return ", ".join(items)


def _line(speaker: str, text: str) -> str:
    text = " ".join(str(text).split())
    return f"{speaker}: {text}" if speaker else text


def _expanded(rows_by_dialogue: dict[str, list[tuple[Any, str, str]]], canon) -> list[dict[str, Any]]:
    """(dialogue id -> [(turn key, line, label)]) -> one row per utterance with its history."""
    out = []
    for did, turns in rows_by_dialogue.items():
        turns = sorted(turns, key=lambda t: t[0])
        lines = [t[1] for t in turns]
        for k, (turn, line, label) in enumerate(turns):
            out.append(
                {
                    "__id__": f"{did}_u{turn}",
                    "history": lines[max(0, k - MAX_HISTORY) : k],
                    "utterance": line,
                    "label": canon(label),
                }
            )
    return out


def _make_prepare(labels: Sequence[str]):
    by_lower = {l.lower(): l for l in labels}

    def canon(label: Any) -> str:
        if isinstance(label, (int, float)) and not isinstance(label, bool):
            return labels[int(label)]
        s = str(label).strip()
        if s.lower() not in by_lower:
            raise ValueError(f"unknown emotion label {label!r}; expected one of {list(labels)}")
        return by_lower[s.lower()]

    def prepare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not rows:
            return rows
        r0 = rows[0]
        if "candidate" in r0 and "utterance" in r0:  # the paper's expanded layout
            out = []
            for k, r in enumerate(rows):
                cand = as_dict(r["candidate"])
                label = cand[str(r["answer"]).strip()] if str(r["answer"]).strip() in cand else r["answer"]
                out.append(
                    {
                        "__id__": str(r.get("id", f"row{r.get('__row__', k)}")),
                        "history": [str(h) for h in as_list(r.get("history"))],
                        "utterance": str(r["utterance"]),
                        "label": canon(label),
                    }
                )
            return out
        groups: dict[str, list[tuple[Any, str, str]]] = {}
        if "Dialogue_ID" in r0:  # MELD csv
            for r in rows:
                did = f"dia{int(float(r['Dialogue_ID']))}"
                groups.setdefault(did, []).append(
                    (int(float(r["Utterance_ID"])), _line(_speaker(r.get("Speaker")), r["Utterance"]), r["Emotion"])
                )
            return _expanded(groups, canon)
        if "Scene_ID" in r0:  # EmoryNLP csv (as distributed with MELD)
            for r in rows:
                did = f"s{r.get('Season', '')}_e{r.get('Episode', '')}_c{r['Scene_ID']}"
                groups.setdefault(did, []).append(
                    (int(float(r["Utterance_ID"])), _line(_speaker(r.get("Speaker")), r["Utterance"]), r["Emotion"])
                )
            return _expanded(groups, canon)
        if "scenes" in r0:  # EmoryNLP json: episodes -> scenes -> utterances
            for ep in rows:
                for sc in as_list(ep["scenes"]):
                    sc = as_dict(sc)
                    did = str(sc.get("scene_id", f"{ep.get('episode_id')}_{len(groups)}"))
                    for k, u in enumerate(as_list(sc["utterances"])):
                        u = as_dict(u)
                        groups.setdefault(did, []).append(
                            (k, _line(_speaker(u.get("speakers")), u["transcript"]), u["emotion"])
                        )
            return _expanded(groups, canon)
        if "dialog" in r0 and "emotion" in r0:  # DailyDialog (Hub rows)
            for k, r in enumerate(rows):
                did = f"d{r.get('__row__', k)}"
                turns = [str(t).strip() for t in as_list(r["dialog"])]
                emotions = as_list(r["emotion"])
                if len(turns) != len(emotions):
                    raise ValueError(f"dialogue {did}: {len(turns)} turns but {len(emotions)} labels")
                speakers = ["A", "B"]
                groups[did] = [
                    (j, _line(speakers[j % 2], t), e) for j, (t, e) in enumerate(zip(turns, emotions))
                ]
            return _expanded(groups, canon)
        raise KeyError(
            "unrecognised layout: expected MELD csv columns (Utterance, Speaker, Emotion, "
            "Dialogue_ID, Utterance_ID), EmoryNLP csv/json, DailyDialog rows (dialog, emotion) or "
            "expanded rows (history, utterance, candidate, answer)"
        )

    return prepare


def _make_item(labels: Sequence[str]):
    def to_item(name: str, row: Mapping[str, Any], i: int) -> Item:
        history = [str(h) for h in row.get("history", [])]
        utterance = str(row["utterance"])
        ctx = "\n".join(f"- {h}" for h in history) if history else "(start of the conversation)"
        return Item(
            benchmark=name,
            query_id=str(pick(row, "__id__", default=f"row{i}")),
            query=f"Conversation so far:\n{ctx}\n\nUtterance:\n{utterance}",
            gold=str(row["label"]),
            meta={"labels": list(labels), "history": history, "utterance": utterance},
        )

    return to_item


def _prompt(item: Item) -> str:
    labels = item.meta["labels"]
    opts = "\n".join(f"{LETTERS[k]}. {l}" for k, l in enumerate(labels))
    return (
        "Given a conversation history and the current utterance, identify the emotion of the "
        "current utterance, considering both the context and the utterance itself. Think step "
        "by step. The last line of your response must be of the form 'Answer: $EMOTION' "
        "(without quotes) where $EMOTION is one of the options below (its letter or its name).\n\n"
        f"{item.query}\n\nOptions:\n{opts}"
    )


def extract_label(text: str, labels: Sequence[str]) -> str | None:
    line = answer_line(text)
    if line is None:
        return None
    s = strip_markup(line).strip().rstrip(".")
    m = re.match(r"^\(?([A-Z])\)?(?:[.):\s]|$)", s)
    if m and LETTERS.index(m.group(1)) < len(labels):
        return labels[LETTERS.index(m.group(1))]
    low = s.lower()
    hits = [l for l in labels if re.search(rf"(?<![a-z]){re.escape(l.lower())}(?![a-z])", low)]
    if len(hits) == 1:
        return hits[0]
    return None


def _extract(completion: str, item: Item) -> str | None:
    return extract_label(completion, item.meta["labels"])


def _grade(item: Item, extracted: str | None, completion: str) -> float:
    return 1.0 if extracted is not None and extracted.lower() == str(item.gold).lower() else 0.0


def _spec(name, suite, labels, hf_id, split, desc, home, data_files=None):
    return register(
        BenchmarkSpec(
            name=name,
            suite=suite,
            answer_kind="label",
            hf_id=hf_id,
            hf_revision="main" if hf_id else None,
            hf_config=None,
            hf_split=split,
            hf_data_files=data_files,
            to_item=_make_item(labels),
            prompt_fn=_prompt,
            extract_fn=_extract,
            grade_fn=_grade,
            prepare_rows=_make_prepare(labels),
            description=desc,
            homepage=home,
        )
    )


EMORYNLP = _spec(
    "emorynlp", "paper15", EMORYNLP_LABELS, None, "test",
    "EmoryNLP (Friends transcripts, 7 Feeling-Wheel emotions); not on the Hub: point the path at "
    "emorynlp_test_final.csv (MELD repo) or emotion-detection-tst.json (emorynlp repo).",
    "https://github.com/emorynlp/emotion-detection",
)
MELD = _spec(
    "meld", "paper15", MELD_LABELS, "zrr1999/MELD_Text", "test",
    "MELD text (Friends dialogues, 7 Ekman emotions + neutral), from test_sent_emo.csv.",
    "https://affective-meld.github.io", data_files="test_sent_emo.csv",
)
DAILYDIALOG = _spec(
    "dailydialog", "ood5", DAILYDIALOG_LABELS, "li2017dailydialog/daily_dialog", "test",
    "DailyDialog (7 emotion labels incl. 'no emotion'); the Hub copy is a loading script "
    "(needs datasets<4), so mirroring it locally is easiest.",
    "http://yanran.li/dailydialog",
)
