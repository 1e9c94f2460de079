"""Answer normalisers: each built-in, the registry and per-benchmark choice."""

from __future__ import annotations

import pytest

from avengers.errors import ConfigError
from avengers.answers import BENCHMARK_PIPELINES, PIPELINES, get_pipeline, pipeline_for
from avengers.answers.normalize import NORMALIZERS, parse_number


def n(name: str, x: str | None) -> str | None:
    return NORMALIZERS.get(name)(x)


def test_builtins_registered():
    assert {"exact", "strip", "text", "choice", "number", "date", "compact", "code", "mathd"} <= set(NORMALIZERS.names())


@pytest.mark.parametrize("name", ["exact", "strip", "text", "choice", "number", "date"])
def test_none_stays_none(name):
    assert n(name, None) is None


def test_exact_is_identity_byte_for_byte():
    # The MoT release counts "04/30/2020\n" as its own answer; stripping would change 7 votes.
    for x in ["05/01/2021", "04/30/2020\n", " B ", ""]:
        assert n("exact", x) == x


def test_strip():
    assert n("strip", "  04/30/2020\n") == "04/30/2020"
    assert n("strip", "   ") is None


@pytest.mark.parametrize(
    "raw, want",
    [
        ("Paris", "paris"),
        ("  Paris.  ", "paris"),
        ("New   York\n City", "new york city"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
        ("yes...", "yes"),
        ("", None),
        (" . ", None),
    ],
)
def test_text(raw, want):
    assert n("text", raw) == want


@pytest.mark.parametrize(
    "raw, want",
    [
        ("(B)", "B"),
        ("B)", "B"),
        ("b", "B"),
        ("B.", "B"),
        (" ( c ) ", "C"),
        ("answer is B", "B"),
        ("The answer is (d).", "D"),
        ("Answer: C", "C"),
        ("So the answer is A, because", "A"),
        ("B) Paris", "B"),
        ("(A) 42", "A"),
        ("I pick option (C) here", "C"),
        ("The answer is a dog", "the answer is a dog"),  # no letter: falls back to text
        ("Paris", "paris"),
        ("(A) or (B)", "(a) or (b)"),  # two letters named: not guessed
        ("", None),
    ],
)
def test_choice(raw, want):
    assert n("choice", raw) == want


@pytest.mark.parametrize(
    "raw, want",
    [
        ("1,234.50", "1234.5"),
        ("$3", "3"),
        ("3.0", "3"),
        ("-0.0", "0"),
        ("42.", "42"),
        ("50%", "50"),
        ("+7", "7"),
        (".5", "0.5"),
        ("1000000", "1000000"),
        ("3/4", "0.75"),
        ("2/6", "1/3"),
        ("The answer is 1,234 apples", "1234"),
        ("#### 18", "18"),
        ("x = 3, so y = 5", "5"),
        ("seven", "seven"),
        ("", None),
    ],
)
def test_number(raw, want):
    assert n("number", raw) == want


@pytest.mark.parametrize(
    "raw, want",
    [
        ("5/1/2021", "05/01/2021"),
        ("05/01/2021", "05/01/2021"),
        ("04/30/2020\n", "04/30/2020"),
        ("12/3/2019", "12/03/2019"),
        ("April 30, 2020", "04/30/2020"),
        ("May 01, 2020\n", "05/01/2020"),
        ("Apr 11, 1985", "04/11/1985"),
        ("Sept. 3rd 1999", "09/03/1999"),
        ("30 April 2020", "04/30/2020"),
        ("2021-05-01", "05/01/2021"),
        ("06/12/2019 (1 week ago from today)", "06/12/2019"),
        ("Today is 09/07/2003.", "09/07/2003"),
        ("Tomorrow is Jul 29, 2002. Therefore, the date tomorrow is 07/29/2002.", "07/29/2002"),
        ("02/29/2017", "02/29/2017"),  # not a real day; the format is normalised, the answer stays wrong
        ("5/18/19", "5/18/19"),  # two-digit year: the century is not guessed
        ("If tomorrow is 11/12/2019, then the date tomorrow is 11/13/2019.",
         "If tomorrow is 11/12/2019, then the date tomorrow is 11/13/2019."),  # two dates: not guessed
        ("2019", "2019"),
        ("13/05/2020", "13/05/2020"),  # month 13: not a MM/DD/YYYY date
        ("", None),
    ],
)
def test_date(raw, want):
    assert n("date", raw) == want


def test_pipeline_for_per_benchmark_and_fallback():
    assert pipeline_for("bbh_date_understanding").normalize("5/1/2021") == "05/01/2021"
    assert pipeline_for("mmlu").normalize("(b)") == "B"
    assert pipeline_for("mmlu_pro/law").normalize("(b)") == "B"  # sub-benchmark
    assert pipeline_for("mmlupro").name == pipeline_for("mmlu_pro").name == "choice"  # the reference's id
    assert pipeline_for("kandk").name == "knights_knaves" and pipeline_for("arcc").name == "choice"
    # no pipeline: byte for byte, so nothing is merged that its source may have graded apart
    assert pipeline_for("mmlu_test").name == "exact"  # not a sub-benchmark of mmlu
    assert pipeline_for("gsm8k").normalize(" 1,000 ") == " 1,000 "


def test_every_benchmark_maps_to_a_registered_pipeline():
    for bench, name in BENCHMARK_PIPELINES.items():
        assert name in PIPELINES, bench
        assert get_pipeline(name).name == name


def test_unknown_pipeline_is_a_config_error_with_suggestion():
    with pytest.raises(ConfigError, match="Did you mean 'choice'"):
        get_pipeline("choise")
    with pytest.raises(ConfigError, match="Known:"):
        NORMALIZERS.get("nope")


def test_grade_is_a_function_of_the_vote_key():
    """Two answers that vote together get the same grade (the answer pipeline grades the key)."""
    choice = get_pipeline("choice")
    assert choice.score("b", "B") == choice.score("(B)", "B") == 1.0
    date = get_pipeline("date")
    assert date.score("5/1/2021", "05/01/2021") == 1.0
    assert get_pipeline("exact").score("5/1/2021", "05/01/2021") == 0.0
    with pytest.raises(ConfigError, match="runs tests"):
        get_pipeline("code").score("def f(): pass", None)


@pytest.mark.parametrize("raw, want", [
    ("\\dfrac12", "\\frac{1}{2}"), ("x = 3", "3"), ("0.5", "\\frac{1}{2}"), ("\\text{(B)}", "(B)"),
    ("5 \\text{ cm}", "5"), ("3/4", "\\frac{3}{4}"), ("10\\%", "10"), (".5", "\\frac{1}{2}"), ("", None),
])
def test_mathd(raw, want):
    assert n("mathd", raw) == want


def test_compact_code_and_values():
    assert n("compact", "$\\text{Paris}$.") == "paris" and n("compact", " . ") is None
    assert n("code", "  def f():\n    return 1   \n\n") == "  def f():\n    return 1"
    assert n("code", " \n ") is None
    assert parse_number("12.5%") == 0.125 and parse_number("\\frac{3}{4}") == 0.75
    assert parse_number("1,234.5") == 1234.5 and parse_number("3 apples") is None and parse_number(True) is None


def test_pluggable():
    name = "_test_upper"

    @NORMALIZERS.register(name)
    def upper(a):
        return None if a is None else a.upper()

    try:
        assert NORMALIZERS.get(name)("x") == "X"
    finally:
        NORMALIZERS._items.pop(name, None)
