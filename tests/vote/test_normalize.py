"""Answer normalisers: each built-in, the registry and per-benchmark choice."""

from __future__ import annotations

import pytest

from avengers.errors import ConfigError
from avengers.answers.normalize import NORMALIZERS, normalizer_for, normalizer_from_config


def n(name: str, x: str | None) -> str | None:
    return NORMALIZERS.get(name)(x)


def test_builtins_registered():
    assert {"exact", "strip", "text", "choice", "number", "date"} <= set(NORMALIZERS.names())


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


def test_normalizer_for_per_benchmark_and_default():
    mapping = {"bbh_date_understanding": "date", "mmlu": "choice", "mmlu_pro": "choice"}
    assert normalizer_for("bbh_date_understanding", mapping, "text")("5/1/2021") == "05/01/2021"
    assert normalizer_for("mmlu", mapping, "text")("(b)") == "B"
    assert normalizer_for("mmlu_pro/law", mapping, "text")("(b)") == "B"  # sub-benchmark
    assert normalizer_for("mmlu_test", mapping, "text")("(b)") == "(b)"  # not a sub-benchmark
    assert normalizer_for("gsm8k", mapping, "number")("1,000") == "1000"
    assert normalizer_for("gsm8k", None, "exact") is NORMALIZERS.get("exact")


def test_unknown_normalizer_is_a_config_error_with_suggestion():
    with pytest.raises(ConfigError, match="did you mean|Did you mean"):
        normalizer_for("gsm8k", {"gsm8k": "numbr"}, "text")
    with pytest.raises(ConfigError, match="Known:"):
        NORMALIZERS.get("nope")


def test_normalizer_from_config():
    cfg = {"normalizer": "auto", "default_normalizer": "text", "normalizers": {"arc_challenge": "choice"}}
    assert normalizer_from_config(cfg, "arc_challenge")("b)") == "B"
    assert normalizer_from_config(cfg, "other")(" Hi. ") == "hi"
    assert normalizer_from_config({**cfg, "normalizer": "exact"}, "arc_challenge")("b)") == "b)"
    assert normalizer_from_config({}, "x")(" A  B ") == "a b"  # defaults: auto + text


def test_pluggable():
    name = "_test_upper"

    @NORMALIZERS.register(name)
    def upper(a):
        return None if a is None else a.upper()

    try:
        assert normalizer_for("b", {"b": name}, "text")("x") == "X"
    finally:
        NORMALIZERS._items.pop(name, None)
