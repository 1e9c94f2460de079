"""Every invariant of the canonical outcome table fails with one clear message."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from avengers.errors import OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes.schema import read_outcomes, validate, write_outcomes


def table(**over) -> pd.DataFrame:
    rows = []
    for q in range(3):
        for m in ("a", "b"):
            rows.append(dict(benchmark="gsm8k", query_id=f"q{q}", query=f"question {q}", model=m, sample=0,
                             score=float((q + (m == "a")) % 2), answer=str(q), cost=0.01, split=None))
    df = pd.DataFrame(rows)
    for k, v in over.items():
        df[k] = v
    return df


def test_valid_table_roundtrips_parquet_and_jsonl(tmp_path):
    df = validate(table())
    for suffix in (".parquet", ".jsonl"):
        p = tmp_path / f"o{suffix}"
        write_outcomes(df, p)
        back = validate(read_outcomes(p))
        pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize("bad", [1.5, -0.1, math.nan])
def test_score_outside_unit_interval_or_nan(bad):
    df = table()
    df.loc[2, "score"] = bad
    with pytest.raises(OutcomeError, match=r"NaN or outside \[0, 1\].*query_id='q1'"):
        validate(df)


def test_duplicate_rows():
    df = pd.concat([table(), table().iloc[[0]]], ignore_index=True)
    with pytest.raises(OutcomeError, match="duplicate rows.*query_id='q0'"):
        validate(df)


def test_missing_model_for_some_query_and_the_explicit_choices():
    df = table().drop(index=3)  # q1 has no row for model b
    with pytest.raises(OutcomeError, match=r"lack outcomes.*'q1'.*\['b'\].*data.missing=drop_query"):
        validate(df)
    dropped = validate(df, missing="drop_query")
    assert sorted(dropped["query_id"].unique()) == ["q0", "q2"]
    zero = validate(df, missing="zero")
    row = zero[(zero.query_id == "q1") & (zero.model == "b")]
    assert len(row) == 1 and row["score"].item() == 0.0


def test_same_query_id_with_different_texts():
    df = table()
    df.loc[1, "query"] = "another question"
    with pytest.raises(OutcomeError, match="different query texts"):
        validate(df)


def test_bad_split_value_and_missing_column():
    with pytest.raises(OutcomeError, match="split must be 'train', 'test' or null"):
        validate(table(split="calibration"))
    with pytest.raises(OutcomeError, match=r"required column\(s\) \['score'\]"):
        validate(table().drop(columns="score"))


def test_non_integer_sample():
    with pytest.raises(OutcomeError, match="sample"):
        validate(table(sample=0.5))


def test_unknown_source_has_did_you_mean():
    from avengers.errors import ConfigError

    with pytest.raises(ConfigError, match="Did you mean 'routerdc'"):
        load_outcomes({"source": "routerdcc"})


def test_canonical_file_source(tmp_path):
    p = tmp_path / "o.jsonl"
    write_outcomes(table(), p)
    t = load_outcomes({"source": "outcomes", "path": str(p)})
    assert t.models == ["a", "b"] and t.benchmarks == ["gsm8k"] and str(p) in t.files
    with pytest.raises(OutcomeError, match="does not exist"):
        load_outcomes({"source": "outcomes", "path": str(tmp_path / "nope.parquet")})


def test_missing_answers_stay_none_through_string_dtypes(tmp_path):
    df = table()
    df["answer"] = pd.array(["1", None, "2", None, "x", "y"], dtype="string")
    out = validate(df)
    assert out["answer"].map(type).map(lambda t: t.__name__).value_counts().to_dict() == {"str": 4, "NoneType": 2}
    p = tmp_path / "o.parquet"
    write_outcomes(df, p)
    back = validate(read_outcomes(p))
    assert back["answer"].isna().sum() == 2 and all(a is None or isinstance(a, str) for a in back["answer"])

