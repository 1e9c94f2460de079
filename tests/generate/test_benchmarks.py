"""Benchmark registry: every benchmark loads its fixture (published row layout), prompts, extracts
and grades a right and a wrong completion. No network: only local fixture files are read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from avengers.generate.benchmarks import (
    BENCHMARKS,
    SUITES,
    BenchmarkSource,
    Item,
    get_benchmark,
    read_rows,
    suite_names,
)
from avengers.errors import AvengersError, ConfigError

FIX = Path(__file__).parent / "fixtures" / "benchmarks"
CONF = Path(__file__).resolve().parents[2] / "src" / "avengers" / "conf" / "generate" / "benchmark"

# name -> (fixture, number of items, query_id of the item under test, right completion,
#          expected extraction of the right completion, wrong completion)
CASES = {
    "aime": ("aime", 2, "2024-61",
             "2024 = 2^3 * 11 * 23, so (3+1)(1+1)(1+1) = 16.\n\\boxed{16}", "16",
             "I think it is \\boxed{12}"),
    "math500": ("math500", 3, "test/prealgebra/1.json",
                "Divide numerator and denominator by 3.\n\\boxed{0.5}", "0.5",
                "\\boxed{\\frac{1}{3}}"),
    "livemathbench": ("livemathbench", 2, "v202412_AMC_en/0",
                      "(6-2)*180 = 720.\n\\boxed{720^\\circ}", "720^\\circ",
                      "\\boxed{540}"),
    "mathbench": ("mathbench", 3, "college/single_choice_en/0",
                  "d/dx x^2 = 2x.\nAnswer: B", "B", "Answer: A"),
    "mbpp": ("mbpp", 2, "12",
             "Here you go:\n```python\ndef max_square(xs):\n    return max(xs) ** 2\n```",
             "def max_square(xs):\n    return max(xs) ** 2",
             "```python\ndef max_square(xs):\n    return max(xs) * 2\n```"),
    "humaneval": ("humaneval", 2, "HumanEval/0",
                  "```python\nfrom typing import List\n\ndef add_all(numbers: List[int]) -> int:\n    return sum(numbers)\n```",
                  "from typing import List\n\ndef add_all(numbers: List[int]) -> int:\n    return sum(numbers)",
                  "```python\ndef add_all(numbers):\n    return 0\n```"),
    "studenteval": ("studenteval", 2, "add_up/student1/0",
                    "```python\ndef add_up(arr):\n    return sum(x for row in arr for x in row if isinstance(x, int))\n```",
                    "def add_up(arr):\n    return sum(x for row in arr for x in row if isinstance(x, int))",
                    "```python\ndef add_up(arr):\n    return len(arr)\n```"),
    "korbench": ("korbench", 3, "operation/1",
                 "a※b = 2a + b, so 3※4 = 6 + 4 = 10.\n[[10]]", "10", "[[7]]"),
    "knights_knaves": ("knights_knaves", 2, "3ppl/0",
                       "Suppose Ava is a knight...\nCONCLUSION:\n(1) Ava is a knight\n(2) Ben is a knave\n(3) Cleo is a knight",
                       "Ava=knight; Ben=knave; Cleo=knight",
                       "CONCLUSION:\n(1) Ava is a knave\n(2) Ben is a knight\n(3) Cleo is a knave"),
    "bbh": ("bbh", 3, "date_understanding/0",
            "Christmas Eve is 12/24, so tomorrow is 12/25/1937.\nAnswer: (B)", "(B)", "Answer: (A)"),
    "arc_challenge": ("arc_challenge", 2, "NYSEDREGENTS_2015_4_8",
                      "Metals conduct electricity.\nAnswer: D", "D", "Answer: A"),
    "mmlu_pro": ("mmlu_pro", 2, "70", "Wind is renewable.\n**Answer: C**", "C", "Answer: A"),
    "gpqa": ("gpqa", 2, "rec1XyZ789", None, None, None),  # letters depend on the shuffle
    "finqa": ("finqa", 2, "ABC/2019/page_10.pdf-1",
              "(1200-1000)/1000 = 20%.\n\\boxed{20\\%}", "20\\%", "\\boxed{0.25}"),
    "medqa": ("medqa", 2, "row0", "Low ferritin means iron deficiency.\nAnswer: B", "B", "Answer: C"),
    "emorynlp": ("emorynlp", 3, "s1_e5_c2_u1",
                 "Joey is annoyed about the parking spot.\nAnswer: B", "Mad", "Answer: Joyful"),
    "meld": ("meld", 3, "dia0_u0", "Mark is puzzled by the numbers.\nAnswer: surprise", "surprise",
             "Answer: E"),
    "winogrande": ("winogrande", 2, "3QHITW7OYO-2", "The suitcase is too small.\nAnswer: B", "B",
                   "Answer: A"),
    "brainteaser": ("brainteaser/semeval", 2, "SP-0", "A barber shaves others.\nAnswer: B", "B",
                    "Answer: A"),
    "dailydialog": ("dailydialog", 5, "d0_u1", "The speaker is surprised.\nAnswer: G", "surprise",
                    "Answer: no emotion"),
}


def _load(name: str, fixture: str | None = None, **kw):
    spec = get_benchmark(name)
    return spec, spec.load(BenchmarkSource(path=str(FIX / (fixture or CASES[name][0]))), **kw)


def _item(items, qid) -> Item:
    return next(it for it in items if it.query_id == qid)


def test_all_twenty_registered():
    assert len(SUITES["paper15"]) == 15 and len(SUITES["ood5"]) == 5
    everything = SUITES["paper15"] + SUITES["ood5"]
    assert len(set(everything)) == 20 and set(everything) <= set(BENCHMARKS.names())
    assert set(CASES) == set(everything)
    for suite, names in SUITES.items():
        for n in names:
            spec = get_benchmark(n)
            assert spec.suite == suite and spec.name == n
            assert spec.answer_kind in {"math", "choice", "code", "label", "number", "text", "assignment"}


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
        assert "{{" not in prompt.replace(it.query, "")  # no unformatted template braces
        assert any(k in prompt for k in ("Answer: $", "\\boxed{$ANSWER}", "[[your answer]]",
                                         "CONCLUSION:", "```python"))  # fixed final-answer format
    item = _item(items, qid)
    if right is None:
        return
    got = spec.extract(right, item)
    assert got == expected
    assert spec.grade(item, got, right) == 1.0
    bad = spec.extract(wrong, item)
    assert spec.grade(item, bad, wrong) == 0.0
    # no final answer at all
    assert spec.grade(item, spec.extract("I am not sure.", item), "I am not sure.") == 0.0


def test_stable_ids_and_limit():
    _, a = _load("math500")
    _, b = _load("math500")
    assert [i.query_id for i in a] == [i.query_id for i in b]
    _, two = _load("math500", limit=2)
    assert [i.query_id for i in two] == [i.query_id for i in a[:2]]
    _, none = _load("math500", limit=0)
    assert none == []


def test_loading_local_files_does_not_import_datasets():
    for name in CASES:
        _load(name)
    assert "datasets" not in sys.modules


# ------------------------------------------------------------------------ per-benchmark
def test_math_prompt_asks_for_boxed_and_equivalence():
    spec, items = _load("math500")
    item = _item(items, "test/algebra/2.json")
    assert "\\boxed{" in spec.prompt(item)
    assert spec.grade(item, spec.extract("\\boxed{\\sqrt{18}}", item), "") == 1.0
    assert spec.grade(item, "3\\sqrt{3}", "") == 0.0
    # 'Answer:' line accepted when no box
    assert spec.extract("so x is 10.\nFinal Answer: 10", _item(items, "test/algebra/3.json")) == "10"


def test_aime_reads_maxwell_jia_layout(tmp_path):
    p = tmp_path / "aime.jsonl"
    p.write_text(json.dumps({"ID": "2024-I-1", "Problem": "Compute 1+1.", "Solution": "2", "Answer": 2}) + "\n")
    items = get_benchmark("aime").load({"path": str(p)})
    assert items[0].query_id == "2024-I-1" and items[0].gold == "2"


def test_mathbench_cloze_rows_are_graded_as_math():
    spec, items = _load("mathbench")
    item = _item(items, "primary/cloze_en/0")
    assert item.meta["kind"] == "cloze"
    assert spec.grade(item, spec.extract("\\boxed{144}", item), "") == 1.0
    assert spec.grade(item, spec.extract("\\boxed{124}", item), "") == 0.0


def test_gpqa_shuffle_is_deterministic_and_graded():
    spec, items = _load("gpqa")
    _, again = _load("gpqa")
    for it, it2 in zip(items, again):
        assert it.meta["options"] == it2.meta["options"] and it.gold == it2.gold
        assert it.meta["options"][ord(it.gold) - 65] in ("1s2 2s2 2p2", "Photon")
        wrong = next(l for l in "ABCD" if l != it.gold)
        assert spec.grade(it, spec.extract(f"Answer: {it.gold}", it), "") == 1.0
        assert spec.grade(it, spec.extract(f"Answer: {wrong}", it), "") == 0.0


def test_choice_extraction_variants():
    spec, items = _load("arc_challenge")
    it = items[0]
    for text in ("Answer: C", "answer: (C)", "**Answer:** C. Planetary days", "Final answer: $\\boxed{C}$",
                 "So the answer is (C).", "Answer: C\n"):
        assert spec.extract(text, it) == "C", text
    assert spec.extract("Answer: Z", it) is None
    assert spec.extract("no idea", it) is None
    # ARC numeric labels map to letters
    assert items[1].gold == "D" and items[1].meta["labels"] == ["1", "2", "3", "4"]


def test_mmlu_pro_keeps_ten_options_from_parquet():
    spec, items = _load("mmlu_pro")
    assert len(items[0].meta["options"]) == 10 and len(items[1].meta["options"]) == 4
    assert "J." in spec.prompt(items[0])
    assert spec.extract("Answer: J", items[0]) == "J"
    assert spec.extract("Answer: J", items[1]) is None


def test_brainteaser_riddlesense_layout():
    spec, items = _load("brainteaser", "brainteaser/riddlesense")
    assert items[0].gold == "B" and len(items[0].meta["options"]) == 5
    assert spec.grade(items[0], spec.extract("Answer: B", items[0]), "") == 1.0


def test_winogrande_shows_both_options():
    spec, items = _load("winogrande")
    p = spec.prompt(items[0])
    assert "A. trophy" in p and "B. suitcase" in p and "_" in p


def test_korbench_joins_rules_and_normalises():
    spec, items = _load("korbench")
    item = _item(items, "operation/1")
    assert "2a + b" in spec.prompt(item) and "[[" in spec.prompt(item)
    assert "three" not in " ".join(i.query_id for i in items)
    cipher = _item(items, "cipher/1")
    assert spec.grade(cipher, spec.extract("The answer is [[ dbu ]].", cipher), "") == 1.0
    assert spec.grade(cipher, spec.extract("[[DBV]]", cipher), "") == 0.0
    op2 = _item(items, "operation/2")
    assert spec.grade(op2, "3.0", "") == 1.0


def test_korbench_or_answers_are_unordered():
    from avengers.generate.benchmarks.reasoning import kor_equal

    assert kor_equal("-12or4", "[[4or-12]]")
    assert kor_equal("4 or -12", "[[4or-12]]")
    assert not kor_equal("4", "[[4or-12]]")
    assert kor_equal("x=2,y=3", "[[x=2,y=3]]")


def test_korbench_without_rules_names_the_fix(tmp_path):
    (tmp_path / "operation").mkdir()
    src = FIX / "korbench" / "operation" / "sample.jsonl"
    (tmp_path / "operation" / "sample.jsonl").write_text(src.read_text())
    with pytest.raises(AvengersError, match="rule.jsonl"):
        get_benchmark("korbench").load({"path": str(tmp_path)})


def test_knights_knaves_partial_or_missing_is_wrong():
    spec, items = _load("knights_knaves")
    item = _item(items, "3ppl/0")
    partial = "CONCLUSION:\n(1) Ava is a knight\n(2) Ben is a knave"
    assert spec.grade(item, spec.extract(partial, item), partial) == 0.0
    alt = "CONCLUSION:\n(1) **Ava**: Knight\n(2) **Ben**: Knave\n(3) **Cleo**: Knight"
    assert spec.grade(item, spec.extract(alt, item), alt) == 1.0
    assert item.gold == {"Ava": "knight", "Ben": "knave", "Cleo": "knight"}


def test_bbh_free_text_targets():
    spec, items = _load("bbh")
    it = _item(items, "boolean_expressions/0")
    assert spec.grade(it, spec.extract("not True is False; False and True = False.\nAnswer: False.", it), "") == 1.0
    assert spec.grade(it, spec.extract("Answer: True", it), "") == 0.0


def test_finqa_numeric_tolerance():
    from avengers.generate.benchmarks.finqa import finqa_equal

    assert finqa_equal("0.2", 0.2) and finqa_equal("20%", 0.2) and finqa_equal("20", 0.2)
    assert finqa_equal("250.25", 250.25) and finqa_equal("250.3", 250.25) and finqa_equal("$250.25", 250.25)
    assert not finqa_equal("251.5", 250.25) and not finqa_equal("0.3", 0.2) and not finqa_equal(None, 0.2)
    assert finqa_equal("yes", "yes") and not finqa_equal("no", "yes")
    spec, items = _load("finqa")
    assert "| revenue | $ 1,200 | $ 1,000 |" in spec.prompt(items[0])


def test_emotion_dialogue_history():
    spec, items = _load("meld")
    second = _item(items, "dia0_u1")
    assert second.meta["history"] == ["Mark: Why do all your coffee mugs have numbers on the bottom?"]
    assert _item(items, "dia1_u0").meta["history"] == []
    p = spec.prompt(second)
    assert "A. anger" in p and "G. surprise" in p
    _, emory = _load("emorynlp")
    assert emory[1].meta["utterance"].startswith("Monica Geller:")
    assert emory[1].gold == "Powerful"


def test_emotion_paper_layout(tmp_path):
    p = tmp_path / "test.json"
    p.write_text(json.dumps({"history": ["A: hi"], "utterance": "B: I hate this!",
                             "candidate": {"A": "anger", "B": "disgust", "C": "fear", "D": "joy",
                                           "E": "neutral", "F": "sadness", "G": "surprise"},
                             "answer": "A"}) + "\n")
    spec = get_benchmark("meld")
    items = spec.load({"path": str(p)})
    assert items[0].gold == "anger" and items[0].meta["history"] == ["A: hi"]
    assert spec.grade(items[0], spec.extract("Answer: A", items[0]), "") == 1.0


def test_code_extraction_and_grading_details():
    from avengers.generate.benchmarks.code import extract_code

    assert extract_code("no code here") is None
    text = "```python\nprint('draft')\n```\nFinal:\n```python\ndef f(x):\n    return x\n```"
    assert extract_code(text, "f").startswith("def f")
    spec, items = _load("humaneval")
    item = _item(items, "HumanEval/1")
    body_only = "```python\n    return text == text[::-1]\n```"
    assert spec.grade(item, spec.extract(body_only, item), body_only) == 1.0
    loop = "```python\ndef is_palindrome(text):\n    while True:\n        pass\n```"
    from avengers.generate.benchmarks import code as code_mod

    old = code_mod.CODE_LIMITS
    code_mod.CODE_LIMITS = code_mod.SandboxLimits(timeout=1.5)
    try:
        assert spec.grade(item, spec.extract(loop, item), loop) == 0.0
    finally:
        code_mod.CODE_LIMITS = old
    # MBPP setup code runs before the solution
    spec, items = _load("mbpp")
    item = _item(items, "11")
    sol = ("```python\ndef remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n    i = s.rfind(ch)\n"
           "    return s[:i] + s[i+1:] if i >= 0 else s\n```")
    assert spec.grade(item, spec.extract(sol, item), sol) == 1.0
    assert item.meta["entry_point"] == "remove_Occ"


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
    # ... and can be mapped instead of renamed
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


def test_benchmarks_without_hub_copy_need_a_path():
    for name in ("korbench", "emorynlp", "mathbench"):
        with pytest.raises(ConfigError, match=f"sources.{name}.path"):
            get_benchmark(name).load(None)


def test_source_resolution():
    spec = get_benchmark("bbh")
    src = spec.resolve_source(None)
    assert src.hf_id == "lukaemon/bbh" and isinstance(src.config, tuple) and len(src.config) == 27
    other = spec.resolve_source({"hf_id": "someone/bbh-mirror", "revision": "abc"})
    assert other.config is None and other.revision == "abc"
    local = get_benchmark("knights_knaves").resolve_source({"path": "/x"})
    assert local.split == "test"


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
    assert set(cfg) == {"names", "sources", "limit"}
    assert cfg["limit"] is None
    names = cfg["names"]
    assert names == suite_names(names)
    if path.stem in SUITES:
        assert names == SUITES[path.stem]
    else:
        assert names == [path.stem]
    assert set(cfg["sources"]) == set(names)
    for name, src in cfg["sources"].items():
        assert set(src) == {"path", "hf_id", "revision"}
        assert src["hf_id"] == get_benchmark(name).hf_id
        assert BenchmarkSource.from_mapping(src) is not None


def test_every_single_benchmark_has_a_yaml():
    assert {p.stem for p in CONF.glob("*.yaml")} == set(SUITES["paper15"] + SUITES["ood5"]) | set(SUITES)


def test_hub_loading_calls_datasets_with_pinned_arguments(monkeypatch):
    """The Hub path, with a stand-in `datasets` module (no network in tests)."""
    import types

    calls = []

    def load_dataset(path, name=None, split=None, revision=None, data_files=None):
        calls.append({"path": path, "name": name, "split": split, "revision": revision, "data_files": data_files})
        if data_files:
            return [{"Sr No.": 1, "Utterance": "Hi!", "Speaker": "Joey", "Emotion": "joy",
                     "Sentiment": "positive", "Dialogue_ID": 0, "Utterance_ID": 0}]
        return [{"input": f"{name} question", "target": "True"}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    items = get_benchmark("bbh").load(None, limit=3)
    assert [c["name"] for c in calls[:3]] == ["boolean_expressions", "causal_judgement", "date_understanding"]
    assert all(c["path"] == "lukaemon/bbh" and c["split"] == "test" and c["revision"] == "main" for c in calls)
    assert [i.query_id for i in items] == ["boolean_expressions/0", "causal_judgement/0", "date_understanding/0"]
    calls.clear()
    items = get_benchmark("meld").load({"hf_id": "zrr1999/MELD_Text", "revision": "abc123"})
    assert calls == [{"path": "csv", "name": None, "split": "train", "revision": None,
                      "data_files": "hf://datasets/zrr1999/MELD_Text@abc123/test_sent_emo.csv"}]
    assert items[0].gold == "joy" and items[0].query_id == "dia0_u0"


def test_source_from_omegaconf():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"path": None, "hf_id": "x/y", "revision": "r1", "config": ["a", "b"],
                            "columns": {"problem": "q"}})
    src = BenchmarkSource.from_mapping(cfg)
    assert src == BenchmarkSource(hf_id="x/y", revision="r1", config=("a", "b"), columns={"problem": "q"})
