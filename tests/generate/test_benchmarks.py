"""Benchmark registry: the reference implementation's item sets, prompts and graders, pinned.

Fixtures: `fixtures/benchmarks/` in each benchmark's published layout, `fixtures/reference_data/`
laid out like the reference's own data folder. No network: local files only (`datasets` reads
them), and the Hub path runs against a stand-in `datasets` module.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from avengers.errors import AvengersError, ConfigError
from avengers.generate.app import _load_items
from avengers.generate.benchmarks import (
    BENCHMARKS,
    SUITES,
    BenchmarkSource,
    Item,
    get_benchmark,
    read_rows,
    suite_names,
)
from avengers.generate.benchmarks import base as base_mod
from avengers.generate.benchmarks.revisions import HUB_REVISIONS, parse_pins

FIX = Path(__file__).parent / "fixtures" / "benchmarks"
REF = Path(__file__).parent / "fixtures" / "reference_data"
CONF = Path(__file__).resolve().parents[2] / "src" / "avengers" / "conf" / "generate" / "benchmark"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# What the reference evaluates (ZhangYiqun018/Avengers evaluate/*; counts not fixed by its code
# are the LLMRouterBench README's for the same data files): items, files under its data folder.
REFERENCE = {
    "aime": (60, ("AIME/2024.json", "AIME/2025.json")),
    "math500": (500, ("MATH500/test.json",)),
    "livemathbench": (121, ("livemathbench/en_test.json",)),
    "mbpp": (974, ("MBPP/test.json",)),
    "humaneval": (164, ("HumanEval/HumanEval.jsonl",)),
    "korbench": (1250, ("KORBench",)),
    "knights_knaves": (700, ("K_and_K/test",)),
    "bbh": (1080, ("bbh/test.json",)),
    "arc_challenge": (1172, ("arc_c/arc_test.json",)),
    "mmlu_pro": (1000, ("MMLUPro/test.json",)),
    "gpqa": (448, ("GPQA/gpqa_main.json",)),
    "finqa": (1147, ("FinQA/test.json",)),
    "medqa": (1273, ("MedQA/test.json",)),
    "emorynlp": (697, ("EmoryNLP/test.json",)),
    "meld": (1232, ("MELD/test.json",)),
    "mathbench": (150, ("MathBench/college.jsonl",)),
    "studenteval": (None, ("studenteval/test.json",)),
    "winogrande": (1267, ("winogrande/valid.json",)),
    "brainteaser": (1021, ("BrainTeaser/rs_dev.jsonl",)),
    "dailydialog": (None, ("dailydialog/test.json",)),
}
PIPELINES = {
    "aime": "math", "math500": "math", "livemathbench": "math", "mathbench": "choice", "mbpp": "code",
    "humaneval": "code", "studenteval": "code", "korbench": "korbench", "knights_knaves": "knights_knaves",
    "bbh": "bbh", "finqa": "finqa", **{b: "choice" for b in ("arc_challenge", "mmlu_pro", "gpqa", "medqa", "winogrande",
                                                            "brainteaser", "emorynlp", "meld", "dailydialog")},
}

# name -> (fixture in its published layout, items, query_id under test, right completion,
#          its extracted answer, wrong completion)
CASES = {
    "aime": ("aime", 2, "2024-61", "2024 = 2^3 * 11 * 23, so (3+1)(1+1)(1+1) = 16.\n\\boxed{16}", "16",
             "I think it is \\boxed{12}"),
    "math500": ("math500", 3, "test/prealgebra/1.json", "Divide numerator and denominator by 3.\n\\boxed{0.5}", "0.5",
                "\\boxed{\\frac{1}{3}}"),
    "livemathbench": ("livemathbench", 2, "v202412_AMC_en/0", "(6-2)*180 = 720.\n\\boxed{720^\\circ}", "720^\\circ",
                      "\\boxed{540}"),
    "mathbench": ("mathbench", 2, "college/single_choice_en/0", "d/dx x^2 = 2x.\nAnswer: B", "B", "Answer: A"),
    "mbpp": ("mbpp", 2, "12", "Here you go:\n```python\ndef max_square(xs):\n    return max(xs) ** 2\n```",
             "def max_square(xs):\n    return max(xs) ** 2", "```python\ndef max_square(xs):\n    return max(xs) * 2\n```"),
    "humaneval": ("humaneval", 2, "HumanEval/0",
                  "```python\nfrom typing import List\n\ndef add_all(numbers: List[int]) -> int:\n    return sum(numbers)\n```",
                  "from typing import List\ndef add_all(numbers: List[int]) -> int:\n    return sum(numbers)",
                  "```python\ndef add_all(numbers):\n    return 0\n```"),
    "studenteval": ("studenteval", 2, "add_up/student1/0",
                    "```python\ndef add_up(arr):\n    return sum(x for row in arr for x in row if isinstance(x, int))\n```",
                    "def add_up(arr):\n    return sum((x for row in arr for x in row if isinstance(x, int)))",
                    "```python\ndef add_up(arr):\n    return len(arr)\n```"),
    "korbench": ("korbench", 3, "operation/1", "a※b = 2a + b, so 3※4 = 6 + 4 = 10.\n[[10]]", "[[10]]", "[[7]]"),
    "knights_knaves": ("knights_knaves", 2, "3ppl/0",
                       "Suppose Ava is a knight...\nCONCLUSION:\n(1) Ava is a knight\n(2) Ben is a knave\n(3) Cleo is a knight",
                       "Ava:knight;Ben:knave;Cleo:knight",
                       "CONCLUSION:\n(1) Ava is a knave\n(2) Ben is a knight\n(3) Cleo is a knave"),
    "bbh": ("bbh", 3, "date_understanding/0", "Christmas Eve is 12/24, so tomorrow is 12/25/1937.\nAnswer: (B)", "(B)",
            "Answer: (A)"),
    "arc_challenge": ("arc_challenge", 2, "NYSEDREGENTS_2015_4_8", "Metals conduct electricity.\nAnswer: D", "D", "Answer: A"),
    "mmlu_pro": ("mmlu_pro", 2, "70", "Wind is renewable.\n**Answer: C**", "C", "Answer: A"),
    "gpqa": ("gpqa", 2, "rec1XyZ789", None, None, None),  # letters depend on the shuffle
    "finqa": ("finqa", 2, "ABC/2019/page_10.pdf-1", "(1200-1000)/1000 = 20%.\n\\boxed{20\\%}", "20\\%", "\\boxed{25\\%}"),
    "medqa": ("medqa", 2, "row0", "Low ferritin means iron deficiency.\nAnswer: B", "B", "Answer: C"),
    "emorynlp": ("emorynlp", 3, "s1_e5_c2_u1", "Joey is annoyed about the parking spot.\nAnswer: B", "B", "Answer: A"),
    "meld": ("meld", 3, "dia0_u0", "Mark is puzzled by the numbers.\nAnswer: G", "G", "Answer: E"),
    "winogrande": ("winogrande", 2, "3QHITW7OYO-2", "The suitcase is too small.\nAnswer: B", "B", "Answer: A"),
    "brainteaser": ("brainteaser/riddlesense", 1, "rs-1", "A piano has keys.\nAnswer: B", "B", "Answer: A"),
    "dailydialog": ("dailydialog", 5, "d0_u1", "The speaker is surprised.\nAnswer: G", "G", "Answer: A"),
}


def _load(name: str, fixture: str | None = None, **kw):
    spec = get_benchmark(name)
    return spec, spec.load(BenchmarkSource(path=str(FIX / (fixture or CASES[name][0]))), **kw)


def _item(items, qid) -> Item:
    return next(it for it in items if it.query_id == qid)


def _reference_items():
    specs, items, prompts = _load_items({"names": ["paper15", "ood5"], "sources": {}, "reference_data": str(REF)})
    return specs, items, prompts


# --------------------------------------------------------------------- the registry
def test_all_twenty_registered():
    assert len(SUITES["paper15"]) == 15 and len(SUITES["ood5"]) == 5
    everything = SUITES["paper15"] + SUITES["ood5"]
    assert len(set(everything)) == 20 and set(everything) <= set(BENCHMARKS.names())
    assert set(CASES) == set(everything) == set(REFERENCE)
    for suite, names in SUITES.items():
        for n in names:
            spec = get_benchmark(n)
            assert spec.suite == suite and spec.name == n


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_each_benchmark_states_the_references_items_and_prompt(name):
    spec = get_benchmark(name)
    n, files = REFERENCE[name]
    assert spec.n_items == n and spec.reference_files == files and spec.pipeline == PIPELINES[name]
    assert spec.n_items_source and spec.prompt_format and spec.description
    from avengers.answers import pipeline_for

    assert pipeline_for(name).name == PIPELINES[name]  # voting finds the same pipeline


def test_hub_sources_are_the_reference_item_sets():
    parts = {b: get_benchmark(b).hub for b in REFERENCE}
    assert [(p.hf_id, p.config, p.split) for p in parts["gpqa"]] == [("Idavidrein/gpqa", "gpqa_main", "train")]
    assert sorted(p.split for p in parts["mbpp"]) == ["prompt", "test", "train", "validation"]  # all 974
    assert [p.tag for p in parts["aime"]] == ["2024", "2025"]  # 30 + 30
    assert [p.split for p in parts["knights_knaves"]] == [f"{n}ppl" for n in range(2, 9)]  # 7 x 100
    for b in ("korbench", "bbh", "mathbench", "brainteaser", "emorynlp", "dailydialog"):
        assert parts[b] == (), b  # no Hub copy the reference's way: a path is needed
    hub_ids = {p.hf_id for ps in parts.values() for p in ps}
    assert hub_ids == set(HUB_REVISIONS)  # every Hub source is in the ONE revisions table


def test_reference_data_folder_gives_the_references_items():
    specs, items, prompts = _reference_items()
    ids = {b: [it.query_id for it in its] for b, its in items.items()}
    assert ids["aime"] == ["2024-I-1", "2025-I-1"]  # 2024.json + 2025.json; total.json is not read
    assert ids["gpqa"] == ["recMain1"]  # gpqa_main.json, not gpqa_diamond.json
    assert ids["mbpp"] == ["1", "2"]  # ordered by task_id
    assert ids["korbench"] == ["cipher/1", "operation/1", "puzzle/1", "counterfactual/1", "logic/1"]  # reference order
    assert len(ids["meld"]) == 2 and len(ids["emorynlp"]) == 2
    meld = items["meld"][0]
    assert meld.gold == "E" and meld.meta["options"]["E"] == "joy"  # the file's own label order
    assert items["finqa"][0].gold == "20%"  # the written answer, not exe_ans
    assert items["gpqa"][0].gold == "C" and items["mmlu_pro"][0].meta["subject"] == "engineering"


def test_prompts_are_the_references_word_for_word():
    """Expected prompts typed from the reference's evaluate/* templates, filled as it fills them."""
    _, items, prompts = _reference_items()
    first = {b: ps[0] for b, ps in prompts.items()}
    assert first["aime"] == (
        "Solve the following math problem step by step. The last line of your response should only contain your final "
        "answer inside a \\boxed{} command.\n\nFind the number of positive divisors of $12$.\n\nRemember to put your "
        "final answer on the last line using the format \\boxed{$ANSWER} where $ANSWER is the answer to the problem."
    )
    assert first["mmlu_pro"] == (
        "Answer the following engineering question. The last line of your response should be of the following format: "
        "'Answer: $LETTER' (without quotes) where LETTER is one of ABCD.\n\nWhich of the following is a renewable "
        "energy source?\n\nA. Coal\nB. Wind\nC. Oil\nD. Peat\n\nLet's think step by step."
    )
    assert first["arc_challenge"] == (
        "Answer the following question. The last line of your response should be of the following format: 'Answer: "
        "$LETTER' (without quotes) where LETTER is one of ABC.\n\nWhich gas do plants take in?\n\nA) oxygen\n"
        "B) carbon dioxide\nC) helium\n\nLet's think step by step."
    )
    assert first["winogrande"] == (
        "You are given a *cloze* sentence containing a blank marked by underscores `___`. Only **one** of the two "
        "options correctly fills the blank while preserving commonsense.\n\nAfter your reasoning, end with a line "
        "**exactly** in the form:  `Answer: $LETTER`, where `LETTER` is **A** or **B**.\n\nCloze Sentence:\nThe "
        "trophy doesn't fit into the brown suitcase because the _ is too large.\n\nOptions:\nA. trophy\nB. suitcase"
        "\n\nLet's think step by step."
    )
    assert prompts["meld"][1] == (
        "Given a conversation history and a current utterance, follow these steps to identify the emotion of the "
        "current utterance from the given options. The emotion should be determined based on both the conversation "
        "context and the current utterance.\nThe last line of your response should be of the following format: "
        "'Answer: $LETTER' (without quotes) where LETTER is one of ABCDEFG. Let's think step by step.\n\nHistory:\n- "
        "\n\nUtterance:\nJoey: Hi.\n\nOptions:\nA. neutral\nB. surprise\nC. fear\nD. sadness\nE. joy\nF. disgust\n"
        "G. anger"
    )
    assert first["knights_knaves"].startswith(
        "Your task is to solve a logical reasoning problem. You are given set of statements from which you must "
        "logically deduce the identity of a set of characters.\n\nYou must infer the identity of each character. "
        "First, explain your reasoning. At the end of your answer, you must clearly state the identity of each "
        "character by following the format:\n\nCONCLUSION:\n(1) ...\n(2) ...\n(3) ...\n\n### Question:\nA very")
    assert first["knights_knaves"].endswith("knave?\n")
    assert first["humaneval"] == (
        "You are an expert Python programmer, and here is your task:\ndef inc(x: int) -> int:\n    \"\"\"Return x + 1."
        "\"\"\"\n\n\nYour code should pass these tests:\n\n\ndef check(candidate):\n    assert candidate(1) == 2\n"
    )
    assert prompts["mbpp"][0] == (
        "You are an expert Python programmer, and here is your task:\nWrite a function to double a number.\n\n"
        "Your code should pass these tests:\nassert double(2) == 4"
    )
    assert first["bbh"] == (
        'Answer the logical question, Write a line of the form "Answer: $ANSWER" at the end of your response. Let\'s '
        "think step by step.\n\nHere are 3 examples to help you understand how to answer the question:\nQ: True and "
        "False is\nA: Let's think step by step. True and False = False. So the answer is False.\n\nQ: not False is\n"
        "A: Let's think step by step. not False = True. So the answer is True.\n\nQ: True or False is\nA: Let's think "
        "step by step. True or False = True. So the answer is True.\n\nQuestion: not ( True ) and ( True ) is"
    )
    kor = prompts["korbench"][1]  # operation/1
    assert kor.startswith("You are an intelligent assistant specializing in evaluating custom operations.")
    assert kor.endswith(
        "### Operation Rule:\n\na※b = a + 2b.\n\n### Question:\nCompute 1※2. (example 1)\n\n### Answer:\n[[5]]\n\n"
        "### Question:\nCompute 1※2. (example 2)\n\n### Answer:\n[[5]]\n\n### Question:\nCompute 1※2. (example 3)\n\n"
        "### Answer:\n[[5]]\n\n### Question:\nCompute 1※2.\n\n### Answer:\n"
    )
    assert first["finqa"].startswith("Solve the following problem step by step.")  # "problem", not "math problem"
    assert ("revenue grew in 2019 . amounts in millions .\n\nHere is the table:\n|  | 2019 | 2018 |\n"
            "| revenue | $ 1,200 | $ 1,000 |\n\n\nno other items .\n\nBased on the content and the table, please answer "
            "the following question: what was the percentage change in revenue from 2018 to 2019?\n") in first["finqa"]


# ----------------------------------------------------------- published layouts, graded
@pytest.mark.parametrize("name", sorted(CASES))
def test_load_prompt_extract_grade(name):
    fixture, n, qid, right, expected, wrong = CASES[name]
    spec, items = _load(name)
    assert len(items) == n
    assert len({it.query_id for it in items}) == n
    for it in items:
        assert it.benchmark == name and it.query.strip()
        json.dumps(it.to_dict())  # JSON-able
        assert Item.from_dict(it.to_dict()) == it
        prompt = spec.prompt(it)
        assert isinstance(prompt, str) and len(prompt) > len(it.query) // 2
        assert any(k in prompt for k in ("'Answer: $LETTER'", "\\boxed{$ANSWER}", '"Answer: $ANSWER"', "### Answer:",
                                         "CONCLUSION:", "Your code should pass these tests:", "`Answer: $LETTER`"))  # the reference's
    item = _item(items, qid)
    if right is None:
        return
    got = spec.extract(right, item)
    assert got == expected
    assert spec.grade(item, got, right) == 1.0
    bad = spec.extract(wrong, item)
    assert spec.grade(item, bad, wrong) == 0.0
    # no final answer at all
    assert spec.grade(item, spec.extract("I am not sure about this one.", item), "") == 0.0


def test_stable_ids_and_limit():
    _, a = _load("math500")
    _, b = _load("math500")
    assert [i.query_id for i in a] == [i.query_id for i in b]
    _, two = _load("math500", limit=2)
    assert [i.query_id for i in two] == [i.query_id for i in a[:2]]
    _, none = _load("math500", limit=0)
    assert none == []


def test_local_files_are_read_with_datasets(monkeypatch):
    """Local json / jsonl / csv / parquet files go through datasets.load_dataset too."""
    real = base_mod._datasets()
    calls = []

    def spy(*args, **kw):
        calls.append((args[0], Path(str(kw["data_files"])).name, kw.get("field")))
        return real.load_dataset(*args, **kw)

    monkeypatch.setattr(base_mod, "_datasets", lambda: types.SimpleNamespace(load_dataset=spy))
    _load("bbh")
    _load("meld")
    _load("mmlu_pro")
    _load("winogrande")
    assert ("json", "boolean_expressions.json", "examples") in calls  # BBH's {"examples": [...]}
    assert ("csv", "test_sent_emo.csv", None) in calls
    assert ("parquet", "test-00000-of-00001.parquet", None) in calls
    assert ("json", "dev.jsonl", None) in calls


# ------------------------------------------------------------------- per benchmark
def test_math_extraction_follows_the_reference():
    spec, items = _load("math500")
    item = _item(items, "test/algebra/2.json")
    # the LAST \boxed{} counts; 'Final Answer' without a box: the answer line
    assert spec.extract("\\boxed{3} no wait \\boxed{3\\sqrt{2}}", item) == "3\\sqrt{2}"
    assert spec.grade(item, spec.extract("\\boxed{\\sqrt{18}}", item), "") == 1.0  # symbolic equality
    assert spec.grade(item, "3\\sqrt{3}", "") == 0.0
    assert spec.extract("so x is 10.\nFinal Answer: 10", _item(items, "test/algebra/3.json")) == "10"
    assert spec.extract("Answer: 10", item) is None  # no box, no 'Final Answer': nothing (as the reference)


def test_aime_is_2024_and_2025(tmp_path):
    p = tmp_path / "aime.jsonl"
    p.write_text(json.dumps({"ID": "2024-I-1", "Problem": "Compute 1+1.", "Solution": "2", "Answer": 2}) + "\n")
    items = get_benchmark("aime").load({"path": str(p)})
    assert items[0].query_id == "2024-I-1" and items[0].gold == "2"


def test_choice_extraction_is_the_references_answer_line():
    spec, items = _load("arc_challenge")
    it = items[0]
    for text in ("Answer: C", "answer:C", "so...\nAnswer: C.", "Final Answer\n\nC", "C", "We pick \\boxed{C}"):
        assert spec.grade_key(spec.extract(text, it)) == "C", text
    assert spec.extract("Answer: Z", it) is None
    assert spec.extract("no idea at all, sorry", it) is None
    assert spec.extract("(C) is my pick", it) is None  # the reference reads only 'Answer: X'
    assert spec.grade(it, "c", "") == 1.0  # lower case votes (and grades) with C
    # ARC numeric labels map to letters by position
    assert items[1].gold == "D" and items[1].meta["labels"] == ["1", "2", "3", "4"]


def test_mmlu_pro_keeps_ten_options_and_names_the_subject():
    spec, items = _load("mmlu_pro")
    assert len(items[0].meta["options"]) == 10 and len(items[1].meta["options"]) == 4
    p = spec.prompt(items[0])
    assert p.startswith("Answer the following engineering question.") and "one of ABCDEFGHIJ." in p and "\nJ. " in p
    assert spec.extract("Answer: J", items[0]) == "J"
    assert spec.grade(items[1], spec.extract("Answer: J", items[1]), "") == 0.0  # not an option here


def test_gpqa_shuffle_is_deterministic_and_graded():
    spec, items = _load("gpqa")
    _, again = _load("gpqa")
    for it, it2 in zip(items, again):
        assert it.meta["options"] == it2.meta["options"] and it.gold == it2.gold
        assert it.meta["options"][it.gold] in ("1s2 2s2 2p2", "Photon")
        wrong = next(letter for letter in "ABCD" if letter != it.gold)
        assert spec.grade(it, spec.extract(f"Answer: {it.gold}", it), "") == 1.0
        assert spec.grade(it, spec.extract(f"Answer: {wrong}", it), "") == 0.0


def test_brainteaser_is_riddlesense_and_semeval_rows_load():
    spec, items = _load("brainteaser", "brainteaser/riddlesense")
    assert items[0].gold == "B" and len(items[0].meta["options"]) == 5
    assert "\nA) a map\nB) a piano\n" in spec.prompt(items[0])
    _, sem = _load("brainteaser", "brainteaser/semeval")
    assert [i.gold for i in sem] == ["B", "A"]


def test_korbench_official_checker():
    spec, items = _load("korbench")
    cipher = _item(items, "cipher/1")
    assert spec.grade(cipher, spec.extract("The answer is [[ DBU ]].", cipher), "") == 1.0
    assert spec.grade(cipher, spec.extract("[[DBV]]", cipher), "") == 0.0
    assert spec.grade(cipher, spec.extract("[[dbu]]", cipher), "") == 0.0  # case matters for ciphers
    assert spec.extract("no brackets", cipher) == "NULL"  # the reference votes on 'NULL' too
    op2 = _item(items, "operation/2")
    assert spec.grade(op2, spec.extract("[[3]]", op2), "") == 1.0
    assert "three" not in " ".join(i.query_id for i in items)
    from avengers.answers.compare import kor_equal

    assert kor_equal("[[-12or4]]", "[[4or-12]]", "operation", "7", "50")  # 'or' answers are unordered
    assert not kor_equal("[[4]]", "[[4or-12]]", "operation", "7", "50")
    assert kor_equal("[[nine ten]]", "[[nine ten]]", "puzzle", "1", "1")
    assert kor_equal("[[8+8+4+4]]", "[[8+8+4+4=24]]", "puzzle", "10", "3")  # the 24-point rule evaluates the sum
    assert not kor_equal("[[8+8+4+3]]", "[[8+8+4+4=24]]", "puzzle", "10", "3")
    # operation questions the checker compares symbolically are graded wrong by the reference:
    # its extraction drops the brackets its checker then looks for (kept, as the reference)
    assert not kor_equal("x^2", "[[x^2]]", "operation", "5", "18")


def test_korbench_without_rules_or_shots_names_the_fix(tmp_path):
    (tmp_path / "operation").mkdir()
    src = FIX / "korbench" / "operation" / "sample.jsonl"
    (tmp_path / "operation" / "sample.jsonl").write_text(src.read_text())
    with pytest.raises(AvengersError, match="rule.jsonl"):
        get_benchmark("korbench").load({"path": str(tmp_path)})
    (tmp_path / "operation" / "rule.jsonl").write_text((FIX / "korbench" / "operation" / "rule.jsonl").read_text())
    with pytest.raises(AvengersError, match="needs 3"):
        get_benchmark("korbench").load({"path": str(tmp_path)})


def test_knights_knaves_as_the_reference_judges():
    spec, items = _load("knights_knaves")
    item = _item(items, "3ppl/0")
    partial = "CONCLUSION:\n(1) Ava is a knight\n(2) Ben is a knave"
    assert spec.grade(item, spec.extract(partial, item), partial) == 0.0
    alt = "CONCLUSION:\n(1) **Ava**: Knight\n(2) **Ben**: Knave\n(3) **Cleo**: Knight"
    assert spec.grade(item, spec.extract(alt, item), alt) == 1.0
    assert item.gold == {"Ava": "knight", "Ben": "knave", "Cleo": "knight"}
    # the conclusion ends at '###'; without 'CONCLUSION:' the whole text is read
    assert spec.extract("Ava is a knight. Ben is a knave. Cleo is a knight.", item) is not None
    from avengers.answers.compare import kk_judge

    assert not kk_judge("Cliff:knight;Zed:knave", {"Cliff": "knight", "Zed": "knave"})  # 'if' in a name: the reference's rule


def test_bbh_is_three_shot_and_graded_like_math():
    spec, items = _load("bbh")
    it = _item(items, "boolean_expressions/0")
    assert "Here are 3 examples" in spec.prompt(it) and "Q: not True is" in spec.prompt(it)
    assert spec.grade(it, spec.extract("not True is False.\nAnswer: False", it), "") == 1.0
    assert spec.grade(it, spec.extract("Answer: false", it), "") == 1.0  # case-insensitive as the reference's rule
    assert spec.grade(it, spec.extract("Answer: True", it), "") == 0.0


def test_bbh_without_its_shots_names_the_fix(tmp_path):
    (tmp_path / "bbh").mkdir()
    (tmp_path / "bbh" / "navigate.json").write_text(json.dumps({"examples": [{"input": "x", "target": "Yes"}]}))
    with pytest.raises(AvengersError, match="cot-prompts"):
        get_benchmark("bbh").load({"path": str(tmp_path)})


def test_finqa_gold_and_matching_rule():
    from avengers.answers.compare import finqa_equal

    assert finqa_equal("14.1", "14.1%") and finqa_equal("14.1\\%", "14.1%")
    assert finqa_equal("14", "14.4%")  # first numbers rounded to integers agree (the reference's rule)
    assert not finqa_equal("15", "14.4%") and not finqa_equal(None, "1") and not finqa_equal("", "1")
    assert finqa_equal("yes", "yes") and not finqa_equal("no", "yes")
    spec, items = _load("finqa")
    assert items[0].gold == "20%" and items[0].meta["gold_field"] == "answer"
    assert "| revenue | $ 1,200 | $ 1,000 |" in spec.prompt(items[0])


def test_emotion_label_order_from_the_file_or_the_module():
    spec, items = _load("meld")
    second = _item(items, "dia0_u1")
    assert second.meta["history"] == ["Mark: Why do all your coffee mugs have numbers on the bottom?"]
    assert _item(items, "dia1_u0").meta["history"] == []
    p = spec.prompt(second)
    assert "A. anger" in p and "G. surprise" in p and "one of ABCDEFG" in p
    _, emory = _load("emorynlp")
    assert emory[1].meta["utterance"].startswith("Monica Geller:")
    assert emory[1].meta["options"][emory[1].gold] == "Powerful"


def test_code_sanitiser_follows_the_reference():
    from avengers.answers.extract import sanitize_code

    assert sanitize_code("no code here at all") is None
    text = "```python\nprint('draft')\n```\nFinal:\n```python\nimport os\ndef f(x):\n    return x\ndef g():\n    pass\n```"
    assert sanitize_code(text) == "import os\ndef f(x):\n    return x"  # g returns nothing: dropped
    long = "\n".join(["thinking..."] * 120) + "\n```python\ndef f():\n    return 1\n```"
    assert sanitize_code(long) is None  # only the first 100 lines are looked at
    spec, items = _load("humaneval")
    item = _item(items, "HumanEval/1")
    body_only = "```python\n    return text == text[::-1]\n```"
    assert spec.grade(item, spec.extract(body_only, item), body_only) == 0.0  # the reference needs the function
    full = "```python\ndef is_palindrome(text):\n    return text == text[::-1]\n```"
    assert spec.grade(item, spec.extract(full, item), full) == 1.0
    numpy_ok = "```python\ndef is_palindrome(text):\n    return bool(np.all([text == text[::-1]]))\n```"
    assert spec.grade(item, spec.extract(numpy_ok, item), "") == 1.0  # the reference's import block
    loop = "```python\ndef is_palindrome(text):\n    while True:\n        pass\n    return 1\n```"
    from avengers.generate.benchmarks import code as code_mod

    old = code_mod.CODE_LIMITS
    code_mod.CODE_LIMITS = code_mod.SandboxLimits(timeout=1.5)
    try:
        assert spec.grade(item, spec.extract(loop, item), loop) == 0.0
    finally:
        code_mod.CODE_LIMITS = old


# ------------------------------------------------------------------------ errors, config
def test_unknown_benchmark_did_you_mean():
    with pytest.raises(ConfigError, match="Did you mean 'math500'"):
        get_benchmark("math50")
    with pytest.raises(ConfigError, match="Unknown benchmark"):
        suite_names(["paper15", "nope"])
    names = suite_names(["ood5", "aime", "winogrande"])
    assert names[:5] == SUITES["ood5"] and names[5] == "aime" and len(names) == 6


def test_missing_column_is_named(tmp_path):
    p = tmp_path / "math.jsonl"
    p.write_text(json.dumps({"question": "1+1?", "solution": "2"}) + "\n")
    with pytest.raises(AvengersError, match=r"\['problem', 'answer'\]|'problem'"):
        get_benchmark("math500").load({"path": str(p)})
    p.write_text(json.dumps({"question": "1+1?", "final": "2", "unique_id": "x"}) + "\n")
    items = get_benchmark("math500").load({"path": str(p), "columns": {"problem": "question", "answer": "final"}})
    assert items[0].gold == "2"


def test_bad_rows_and_paths_raise_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_benchmark("aime").load({"path": str(tmp_path / "missing")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no"):
        get_benchmark("aime").load({"path": str(tmp_path / "empty")})
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "x", "answer": "1"}\n{not json}\n')
    with pytest.raises(AvengersError, match="bad.jsonl:2"):
        get_benchmark("math500").load({"path": str(bad)})
    dup = tmp_path / "dup.jsonl"
    row = json.dumps({"problem": "x", "answer": "1", "unique_id": "same"})
    dup.write_text(row + "\n" + row + "\n")
    with pytest.raises(AvengersError, match="appears twice"):
        get_benchmark("math500").load({"path": str(dup)})
    with pytest.raises(ConfigError, match="Unknown benchmark source field"):
        BenchmarkSource.from_mapping({"pth": "x"})
    with pytest.raises(ConfigError, match="limit"):
        get_benchmark("aime").load({"path": str(FIX / "aime")}, limit=-1)
    with pytest.raises(ConfigError, match="not a folder"):
        _load_items({"names": ["aime"], "reference_data": str(tmp_path / "nowhere")})


def test_benchmarks_without_hub_copy_need_a_path():
    for name in ("korbench", "emorynlp", "mathbench", "bbh", "brainteaser"):
        with pytest.raises(ConfigError, match=f"sources.{name}.path"):
            get_benchmark(name).load(None)


def test_read_rows_split_filter(tmp_path):
    (tmp_path / "train.jsonl").write_text('{"a": 1}\n')
    (tmp_path / "test.jsonl").write_text('{"a": 2}\n{"a": 3}\n')
    rows = read_rows(tmp_path, split="test")
    assert [r["a"] for r in rows] == [2, 3] and rows[0]["__source__"] == "test.jsonl"
    assert len(read_rows(tmp_path, split="validation")) == 3


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_yaml_configs_have_the_agreed_shape(path):
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.load(path))
    assert set(cfg) == {"names", "sources", "limit", "reference_data"}
    assert cfg["limit"] is None and cfg["reference_data"] is None
    names = cfg["names"]
    assert names == suite_names(names)
    if path.stem in SUITES:
        assert names == SUITES[path.stem]
    else:
        assert names == [path.stem]
        spec = get_benchmark(path.stem)
        text = path.read_text()
        assert f"items: {spec.n_items if spec.n_items is not None else 'not recorded'}" in text
    assert set(cfg["sources"]) == set(names)
    for src in cfg["sources"].values():
        assert src == {"path": None}  # Hub ids live in the registry, revisions in revisions.py


def test_every_single_benchmark_has_a_yaml():
    assert {p.stem for p in CONF.glob("*.yaml")} == set(SUITES["paper15"] + SUITES["ood5"]) | set(SUITES)


# ------------------------------------------------------------------- the Hub, pinned
class _FakeDatasets:
    """A stand-in `datasets` module: records load_dataset calls, answers rows per (id, config, split)."""

    def __init__(self, rows):
        self.rows, self.calls = rows, []

    def load_dataset(self, path, name=None, split=None, revision=None, data_files=None, **kw):
        self.calls.append({"path": path, "name": name, "split": split, "revision": revision, "data_files": data_files})
        if data_files:
            return self.rows["__files__"]
        return self.rows.get((path, name, split), [])


def test_unpinned_hub_sources_are_refused(monkeypatch):
    fake = _FakeDatasets({("HuggingFaceH4/MATH-500", None, "test"): [{"problem": "1+1?", "answer": "2", "unique_id": "u"}]})
    monkeypatch.setattr(base_mod, "_datasets", lambda: fake)
    spec = get_benchmark("math500")
    with pytest.raises(ConfigError, match="not pinned to a commit.*allow_unpinned=true"):
        spec.load(None)
    assert fake.calls == []  # refused before reading anything
    with pytest.raises(ConfigError, match="'main', which is not a commit"):
        spec.load({"revision": "main"})
    items = spec.load(None, allow_unpinned=True)
    assert fake.calls[-1]["revision"] == "main" and items[0].query_id == "u"
    spec.load(None, hub_revisions=parse_pins([f"HuggingFaceH4/MATH-500@{COMMIT}"]))
    assert fake.calls[-1] == {"path": "HuggingFaceH4/MATH-500", "name": None, "split": "test", "revision": COMMIT,
                              "data_files": None}
    spec.load({"revision": COMMIT})
    assert fake.calls[-1]["revision"] == COMMIT
    with pytest.raises(ConfigError, match="<dataset id>@<commit>"):
        parse_pins(["no-at-sign"])


def test_hub_parts_are_read_and_tagged(monkeypatch):
    mbpp = {("google-research-datasets/mbpp", "full", s): [{"task_id": t, "text": f"t{t}", "test_list": ["assert True"]}]
            for s, t in (("train", 601), ("test", 11), ("validation", 511), ("prompt", 1))}
    aime = {("Maxwell-Jia/AIME_2024", None, "train"): [{"ID": "2024-I-1", "Problem": "p", "Answer": 1}],
            ("MathArena/aime_2025", None, "train"): [{"problem_idx": 1, "problem": "q", "answer": 2}]}
    fake = _FakeDatasets({**mbpp, **aime, "__files__": [{"Sr No.": 1, "Utterance": "Hi!", "Speaker": "Joey",
                                                          "Emotion": "joy", "Sentiment": "positive", "Dialogue_ID": 0,
                                                          "Utterance_ID": 0}]})
    monkeypatch.setattr(base_mod, "_datasets", lambda: fake)
    items = get_benchmark("mbpp").load(None, allow_unpinned=True)
    assert [i.query_id for i in items] == ["1", "11", "511", "601"]  # all four splits, by task_id
    items = get_benchmark("aime").load(None, allow_unpinned=True)
    assert [i.query_id for i in items] == ["2024-I-1", "2025-1"]
    fake.calls.clear()
    items = get_benchmark("meld").load({"revision": COMMIT})
    assert fake.calls == [{"path": "csv", "name": None, "split": "train", "revision": None,
                           "data_files": f"hf://datasets/zrr1999/MELD_Text@{COMMIT}/test_sent_emo.csv"}]
    assert items[0].gold == "D" and items[0].meta["options"]["D"] == "joy" and items[0].query_id == "dia0_u0"
    with pytest.raises(ConfigError, match="reads 2 Hub datasets"):
        get_benchmark("aime").load({"revision": COMMIT})


def test_hub_offline_mode_reads_the_cache_only():
    """With HF_HUB_OFFLINE=1 (set for these tests) a dataset not in the cache is a clear error."""
    with pytest.raises(AvengersError, match="HF_HUB_OFFLINE=1"):
        get_benchmark("math500").load({"revision": COMMIT})


def test_source_from_omegaconf():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"path": None, "hf_id": "x/y", "revision": "r1", "config": ["a", "b"],
                            "columns": {"problem": "q"}})
    src = BenchmarkSource.from_mapping(cfg)
    assert src == BenchmarkSource(hf_id="x/y", revision="r1", config=("a", "b"), columns={"problem": "q"})
    assert BenchmarkSource.from_mapping({"path": ["a", "b"]}).path == ("a", "b")
