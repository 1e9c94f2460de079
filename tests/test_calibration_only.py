"""A benchmark that the data gives calibration rows only (as the ulab LLMRouter release does for
4 of its 14 tasks) is used for calibration and reported as calibration-only, not refused."""

from __future__ import annotations

import pandas as pd
import pytest

from support import compose_cfg

from avengers.errors import ConfigError
from avengers.outcomes.schema import OutcomeTable, validate, write_outcomes
from avengers.split import make_splits

MODELS = ("m_good_at_math", "m_good_at_words")
WORDS = {"math": "sum product integer equation prime", "words": "synonym rhyme verb noun sentence",
         "extra": "riddle puzzle logic clue answer"}


def canonical(calib_only: tuple[str, ...] = ("extra",)) -> pd.DataFrame:
    rows = []
    for bench, words in WORDS.items():
        for i in range(20):
            split = "train" if bench in calib_only or i < 14 else "test"
            for m in MODELS:
                good = (bench == "math") == (m == "m_good_at_math")
                rows.append({"benchmark": bench, "query_id": f"{bench}-{i}", "query": f"{words} item {i} {words.split()[i % 5]}",
                             "model": m, "sample": 0, "score": 1.0 if good else 0.0, "split": split})
    return validate(pd.DataFrame(rows))


def test_calibration_only_benchmark_is_split_into_calibration():
    table = OutcomeTable(df=canonical(), source="fixture")
    splits = make_splits(table, {"test_size": 0.3}, seed=0)
    assert splits.calibration_only == ("extra",)
    assert dict(splits.kinds) == {"math": "id", "words": "id"}
    assert set(splits.calib["benchmark"]) == {"extra", "math", "words"}
    assert set(splits.test["benchmark"]) == {"math", "words"}
    assert splits.calib[splits.calib.benchmark == "extra"]["query_id"].nunique() == 20


def test_only_calibration_rows_everywhere_is_one_clear_error():
    table = OutcomeTable(df=canonical(calib_only=tuple(WORDS)), source="fixture")
    with pytest.raises(ConfigError, match="every selected benchmark has calibration rows only"):
        make_splits(table, {}, seed=0)


def test_job_reports_the_calibration_only_benchmark(tmp_path):
    from avengers.pipeline import run_job

    path = tmp_path / "outcomes.parquet"
    write_outcomes(canonical(), path)
    cfg = compose_cfg(["data=outcomes", f"data.path={path}", "embedder=tfidf", "embedder.n_components=8",
                       "clustering.n_clusters=3"], cache=tmp_path / "cache", data_root=tmp_path)
    m = run_job(cfg).metrics
    assert set(m["benchmarks"]) == {"math", "words"} and m["calibration_only"] == ["extra"]
    assert m["calibration"]["benchmarks"]["extra"]["n_calib"] == 20
    assert any("calibration-only benchmarks" in n and "extra" in n for n in m["notes"])
    # the routing still works on the tested benchmarks: each goes to its expert
    assert m["benchmarks"]["math"]["scores"]["avengers"] == 100.0
    assert m["benchmarks"]["words"]["scores"]["avengers"] == 100.0
