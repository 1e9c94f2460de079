"""Emotion recognition in conversation: EmoryNLP, MELD (paper15) and DailyDialog (ood5).

One item per utterance: the dialogue so far is the context, the model picks the utterance's
emotion from lettered options (the reference's prompt, evaluate/MELD/meld.py:20), and the
`choice` pipeline grades the letter. The reference's own data files are already expanded
(``history``, ``utterance``, ``candidate`` {letter: label}, ``answer`` letter): read them and
you get its subsets, label order and history length exactly. The published layouts (MELD /
EmoryNLP csv, the EmoryNLP json, DailyDialog rows) load too, with this module's label order
and history length (MAX_HISTORY): the reference's choices there are not in its code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from avengers.generate.benchmarks import prompts
from avengers.generate.benchmarks.base import BenchmarkSpec, HubPart, Item, register
from avengers.generate.benchmarks.common import as_dict, as_list, lettered, pick

EMORYNLP_LABELS = ("Joyful", "Mad", "Neutral", "Peaceful", "Powerful", "Sad", "Scared")
MELD_LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
DAILYDIALOG_LABELS = ("no emotion", "anger", "disgust", "fear", "happiness", "sadness", "surprise")

MAX_HISTORY = 12  # previous utterances shown as context (published layouts only)


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
    candidate = lettered(labels)
    letter = {v: k for k, v in candidate.items()}

    def canon(label: Any) -> str:
        if isinstance(label, (int, float)) and not isinstance(label, bool):
            return labels[int(label)]
        s = str(label).strip()
        if s.lower() not in by_lower:
            raise ValueError(f"unknown emotion label {label!r}; expected one of {list(labels)}")
        return by_lower[s.lower()]

    def published(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**{k: v for k, v in r.items() if k != "label"}, "candidate": candidate, "answer": letter[r["label"]]}
                for r in rows]

    def prepare(rows: list[dict[str, Any]], paths: Sequence[str] = ()) -> list[dict[str, Any]]:
        if not rows:
            return rows
        r0 = rows[0]
        if "candidate" in r0 and "utterance" in r0:  # the reference's expanded layout: as it is
            out = []
            for k, r in enumerate(rows):
                cand = lettered(as_dict(r["candidate"]))
                answer = str(r["answer"]).strip()
                if answer not in cand:
                    raise ValueError(f"answer {answer!r} is not one of the candidate letters {list(cand)}")
                out.append(
                    {
                        "__id__": str(r.get("id", f"row{r.get('__row__', k)}")),
                        "history": [str(h) for h in as_list(r.get("history"))],
                        "utterance": str(r["utterance"]),
                        "candidate": cand,
                        "answer": answer,
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
            return published(_expanded(groups, canon))
        if "Scene_ID" in r0:  # EmoryNLP csv (as distributed with MELD)
            for r in rows:
                did = f"s{r.get('Season', '')}_e{r.get('Episode', '')}_c{r['Scene_ID']}"
                groups.setdefault(did, []).append(
                    (int(float(r["Utterance_ID"])), _line(_speaker(r.get("Speaker")), r["Utterance"]), r["Emotion"])
                )
            return published(_expanded(groups, canon))
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
            return published(_expanded(groups, canon))
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
            return published(_expanded(groups, canon))
        raise KeyError(
            "unrecognised layout: expected MELD csv columns (Utterance, Speaker, Emotion, "
            "Dialogue_ID, Utterance_ID), EmoryNLP csv/json, DailyDialog rows (dialog, emotion) or "
            "expanded rows (history, utterance, candidate, answer)"
        )

    return prepare


def _emotion_item(name: str, row: Mapping[str, Any], i: int) -> Item:
    history = [str(h) for h in row.get("history", [])]
    utterance = str(row["utterance"])
    ctx = "\n".join(f"- {h}" for h in history) if history else "(start of the conversation)"
    options = {str(k): str(v) for k, v in dict(row["candidate"]).items()}
    return Item(
        benchmark=name,
        query_id=str(pick(row, "__id__", default=f"row{i}")),
        query=f"Conversation so far:\n{ctx}\n\nUtterance:\n{utterance}",
        gold=str(row["answer"]),
        meta={"history": history, "utterance": utterance, "options": options, "answer_letters": "A-G"},
    )


def _prompt(item: Item) -> str:
    # the reference writes "- " before the first line even when there is no history
    return prompts.EMOTION.format(history="- " + "\n- ".join(item.meta["history"]), utterance=item.meta["utterance"],
                                  options=prompts.options_block(item.meta["options"]))


_FORMAT = "0-shot; history as '- ' lines, options 'A. label', last line 'Answer: $LETTER' (evaluate/{f}:20)"


def _spec(name, suite, labels, hub, files, count, count_source, f, desc, home):
    return register(
        BenchmarkSpec(
            name=name,
            suite=suite,
            answer_kind="label",
            hub=hub,
            to_item=_emotion_item,
            prompt_fn=_prompt,
            pipeline="choice",
            prepare_rows=_make_prepare(labels),
            reference_files=files,
            n_items=count,
            n_items_source=count_source,
            prompt_format=_FORMAT.format(f=f),
            description=desc,
            homepage=home,
        )
    )


EMORYNLP = _spec(
    "emorynlp", "paper15", EMORYNLP_LABELS, (), ("EmoryNLP/test.json",), 697,
    "the reference's data/EmoryNLP/test.json (evaluate/EmoryNLP/emorynlp.py:41), 697 utterances per the "
    "LLMRouterBench README; the published test set has more, which ones were kept is not in the code",
    "EmoryNLP/emorynlp.py",
    "EmoryNLP (Friends transcripts, 7 Feeling-Wheel emotions); not on the Hub: the reference's test.json, "
    "emorynlp_test_final.csv (MELD repo) or emotion-detection-tst.json (emorynlp repo).",
    "https://github.com/emorynlp/emotion-detection",
)
MELD = _spec(
    "meld", "paper15", MELD_LABELS, (HubPart("zrr1999/MELD_Text", None, "train", data_files="test_sent_emo.csv"),),
    ("MELD/test.json",), 1232,
    "the reference's data/MELD/test.json (evaluate/MELD/meld.py:41), 1,232 utterances per the LLMRouterBench "
    "README; the published test set has 2,610, which ones were kept is not in the code",
    "MELD/meld.py",
    "MELD text (Friends dialogues, 7 Ekman emotions + neutral).", "https://affective-meld.github.io",
)
DAILYDIALOG = _spec(
    "dailydialog", "ood5", DAILYDIALOG_LABELS, (), ("dailydialog/test.json",), None,
    "the reference's data/dailydialog/test.json (evaluate/DailyDialog/dailydialog.py:41); its size is not recorded",
    "DailyDialog/dailydialog.py",
    "DailyDialog (7 emotion labels incl. 'no emotion'); the Hub copy is a loading script that datasets>=4 "
    "cannot run: use the reference's test.json or a local copy of the published rows (dialog, emotion).",
    "http://yanran.li/dailydialog",
)
