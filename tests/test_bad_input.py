"""Bad input stops with one clear message before anything is written: broken outcome files, bad
costs, empty queries, and config values that would otherwise be coerced (2.5 -> 2, 0 -> no cap)."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from avengers.cluster.methods import KMeansClustering, check_n_clusters
from avengers.errors import ConfigError, OutcomeError
from avengers.outcomes.schema import read_outcomes, validate, write_outcomes
from avengers.split import check_split_config
from support import run_cli


def rows(n=12, **over):
    out = []
    for i in range(n):
        for m in ("x", "y"):
            r = dict(benchmark="b", query_id=f"q{i:02d}", query=f"question number {i}", model=m, sample=0,
                     score=float((i + (m == "y")) % 2), cost=0.01)
            out.append(r)
    df = pd.DataFrame(out)
    for k, v in over.items():
        df[k] = v
    return df


@pytest.fixture
def good_parquet(tmp_path):
    p = tmp_path / "good.parquet"
    write_outcomes(rows(), p)
    return p


# ---- outcome files ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind, message", [
    ("zero bytes", "is empty (0 bytes)"),
    ("truncated", "is not a readable Parquet file"),
    ("garbage", "is not a readable Parquet file"),
    ("directory", "is a directory, not a file"),
])
def test_broken_parquet_files_are_one_clear_error(kind, message, tmp_path, good_parquet):
    p = tmp_path / "x.parquet"
    if kind == "zero bytes":
        p.write_bytes(b"")
    elif kind == "truncated":
        p.write_bytes(good_parquet.read_bytes()[: good_parquet.stat().st_size // 2])
    elif kind == "garbage":
        p.write_bytes(b"PAR1" + b"\x00" * 100)
    else:
        p.mkdir()
        (p / "part-0.parquet").write_bytes(good_parquet.read_bytes())
    with pytest.raises(OutcomeError, match=re.escape(message)) as e:
        read_outcomes(p)
    assert str(p) in str(e.value)


@pytest.mark.parametrize("bad, message", [
    (math.inf, "cost is infinite"), (-math.inf, "cost is infinite"), ("abc", "cost is not a number"),
    ("", "cost is not a number"), (-0.5, "cost is negative"),
])
def test_bad_costs_are_refused_not_coerced(bad, message):
    df = rows()
    df["cost"] = df["cost"].astype(object)
    df.loc[3, "cost"] = bad
    with pytest.raises(OutcomeError, match=message + r" in 1 row\(s\), e.g. benchmark='b', query_id='q01', model='y'"):
        validate(df)


def test_missing_and_numeric_text_costs_are_fine():
    df = rows()
    df["cost"] = df["cost"].astype(object)
    df.loc[0, "cost"], df.loc[1, "cost"] = None, "0.25"
    cost = validate(df)["cost"]
    assert math.isnan(cost[0]) and cost[1] == 0.25


def test_every_query_empty_is_refused_some_empty_is_not():
    with pytest.raises(OutcomeError, match=r"every query text of benchmark\(s\) \['b'\] is empty"):
        validate(rows(query="  "))
    df = rows()
    df.loc[df["query_id"] == "q00", "query"] = ""
    assert len(validate(df)) == len(df)


# ---- config values ----------------------------------------------------------------------------

@pytest.mark.parametrize("k", ["abc", 2.5, 0, -3, True, None, "64"])
def test_n_clusters_must_be_a_positive_integer(k):
    with pytest.raises(ConfigError, match=r"clustering.n_clusters=.* must be a positive integer or 'auto'"):
        check_n_clusters(k)
    with pytest.raises(ConfigError, match="must be a positive integer"):
        KMeansClustering(name="kmeans", n_clusters=k).fit([[0.0, 1.0]] * 4, 0)


@pytest.mark.parametrize("cfg, message", [
    ({"max_queries_per_benchmark": "abc"}, "max_queries_per_benchmark='abc' must be a positive integer"),
    ({"max_queries_per_benchmark": -1}, "max_queries_per_benchmark=-1 must be a positive integer"),
    ({"max_queries_per_benchmark": 0}, r"max_queries_per_benchmark=0 must be a positive integer .* or null for no cap"),
    ({"max_queries_per_benchmark": 2.5}, "max_queries_per_benchmark=2.5 must be a positive integer"),
    ({"test_size": "abc"}, "test_size='abc' must be a number in"),
    ({"test_size": 1.0}, "test_size=1.0 must be a number in"),
    ({"calibration_fraction": math.nan}, "calibration_fraction=nan must be a number in"),
    ({"subsample_seed": "x"}, "subsample_seed='x' must be an integer"),
])
def test_split_knobs_are_refused_not_coerced(cfg, message):
    with pytest.raises(ConfigError, match=message):
        check_split_config(cfg)


def test_valid_split_knobs_pass():
    check_split_config({"max_queries_per_benchmark": 5, "test_size": 0.2, "calibration_fraction": 1, "subsample_seed": 0})
    check_split_config({"max_queries_per_benchmark": None})


# ---- through the CLI: exit 2, one `error:` line, no traceback, nothing written ------------------

def check_cli_error(tmp_path, args, message, data_root):
    out = tmp_path / "out"
    proc = run_cli(["embedder=tfidf", "embedder.n_components=8", "clustering.n_clusters=2", *args],
                   cache=tmp_path / "cache", out=out, data_root=data_root, check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not list(out.rglob("metrics.json")) and not list(out.rglob("predictions.parquet"))


@pytest.mark.slow
@pytest.mark.parametrize("arg, message", [
    ("seed=abc", "seed='abc' must be an integer"),
    ("clustering.n_clusters=2.5", "clustering.n_clusters=2.5 must be a positive integer"),
    ("clustering.n_clusters=abc", "clustering.n_clusters='abc' must be a positive integer"),
    ("data.max_queries_per_benchmark=0", "data.max_queries_per_benchmark=0 must be a positive integer"),
    ("data.max_queries_per_benchmark=-1", "data.max_queries_per_benchmark=-1 must be a positive integer"),
])
def test_cli_refuses_bad_config_values(arg, message, tmp_path, good_parquet):
    check_cli_error(tmp_path, ["data=outcomes", f"data.path={good_parquet}", arg], message, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("kind, message", [("inf cost", "cost is infinite"), ("zero bytes", "is empty (0 bytes)"),
                                           ("directory", "is a directory")])
def test_cli_refuses_bad_outcome_files(kind, message, tmp_path):
    p = tmp_path / "bad.parquet"
    if kind == "inf cost":
        df = rows()
        df.loc[5, "cost"] = math.inf
        df.to_parquet(p)  # written around validation, as a foreign tool would
    elif kind == "zero bytes":
        p.write_bytes(b"")
    else:
        p.mkdir()
    check_cli_error(tmp_path, ["data=outcomes", f"data.path={p}"], message, tmp_path)
