"""The calibration/test protocol: seeded, per benchmark, OOD never calibrates."""

from __future__ import annotations

import pandas as pd
import pytest

from avengers.errors import ConfigError
from avengers.outcomes.schema import OutcomeTable, validate
from avengers.split import make_splits


def table(n=50, benches=("a", "b", "c"), split=None) -> OutcomeTable:
    rows = [dict(benchmark=b, query_id=f"{i:03d}", query=f"{b} {i}", model=m, sample=0, score=float(i % 2),
                 split=split) for b in benches for i in range(n) for m in ("x", "y")]
    return OutcomeTable(df=validate(pd.DataFrame(rows)), source="test")


def ids(df):
    return set(zip(df["benchmark"], df["query_id"]))


def test_seeded_split_is_reproducible_and_per_benchmark():
    cfg = {"test_size": 0.3, "ood": ["c"]}
    s1, s2 = make_splits(table(), cfg, seed=0), make_splits(table(), cfg, seed=0)
    assert ids(s1.calib) == ids(s2.calib) and ids(s1.test) == ids(s2.test)
    assert ids(make_splits(table(), cfg, seed=1).test) != ids(s1.test)
    assert s1.calib.groupby("benchmark")["query_id"].nunique().to_dict() == {"a": 35, "b": 35}
    assert not ids(s1.calib) & ids(s1.test)
    # Adding a benchmark does not reshuffle the others.
    s3 = make_splits(table(benches=("a", "b", "c", "d")), cfg, seed=0)
    assert ids(s3.test[s3.test.benchmark == "a"]) == ids(s1.test[s1.test.benchmark == "a"])


def test_ood_never_enters_calibration():
    s = make_splits(table(), {"ood": ["c"]}, seed=0)
    assert "c" not in set(s.calib["benchmark"]) and s.kinds == {"a": "id", "b": "id", "c": "ood"}
    assert s.test[s.test.benchmark == "c"]["query_id"].nunique() == 50


def test_fixed_split_is_kept_and_unknown_names_fail():
    t = table(split="train")
    with pytest.raises(ConfigError, match="(?i)no test queries"):
        make_splits(t, {}, seed=0)
    with pytest.raises(ConfigError, match="Unknown benchmark 'bb'.*Did you mean 'b'"):
        make_splits(table(), {"benchmarks": ["a", "bb"]}, seed=0)
    with pytest.raises(ConfigError, match="every selected benchmark is OOD|no calibration"):
        make_splits(table(benches=("a",)), {"ood": ["a"]}, seed=0)


def test_calibration_fraction_and_pinned_subsample():
    s = make_splits(table(), {"calibration_fraction": 0.2}, seed=0)
    assert s.calib.groupby("benchmark")["query_id"].nunique().to_dict() == {"a": 7, "b": 7, "c": 7}
    a = make_splits(table(), {"max_queries_per_benchmark": 5, "subsample_seed": 0}, seed=0)
    b = make_splits(table(), {"max_queries_per_benchmark": 5, "subsample_seed": 0}, seed=3)
    c = make_splits(table(), {"max_queries_per_benchmark": 5}, seed=3)
    assert ids(a.test) <= ids(make_splits(table(), {}, seed=0).test)
    assert ids(c.test) != ids(a.test)
    assert len(ids(a.calib)) == len(ids(b.calib)) == 15
