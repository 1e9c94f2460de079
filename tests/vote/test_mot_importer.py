"""The MoT importer on small synthetic files (format quirks, errors, download fallback)."""

from __future__ import annotations

import hashlib
import io
import json

import pandas as pd
import pytest

from avengers.errors import ConfigError, OutcomeError
from avengers.assets import download
from avengers.outcomes import mot
from avengers.outcomes.mot import load_mot
from avengers.outcomes.schema import validate


def _rec(q, gold, results):
    return {"question": q, "answer": gold, "generated": ["..."] * len(results), "results": results}


def _write(tmp_path, files):
    d = tmp_path / "mot_date"
    d.mkdir(exist_ok=True)
    for name, rows in files.items():
        (d / name).write_text(json.dumps(rows))
    return str(tmp_path)


def test_scores_answers_and_llama_gold_dict(tmp_path):
    root = _write(
        tmp_path,
        {
            "a.json": [_rec("Q1?", "05/01/2021", ["05/01/2021", "5/1/2021", "04/30/2021\n"]), _rec("Q2?", "01/02/2000", ["01/02/2000"])],
            "b.json": [
                {**_rec("Q1?", {"04/30/2021": 0, "05/01/2021": 1}, ["May 1, 2021", None]), "explain": {}},
                _rec("Q2?", {"01/02/2000": 1}, ["1/2/2000"]),
            ],
        },
    )
    cfg = {"root": root, "files": {"ma": "a.json", "mb": "b.json"}, "benchmark": "date"}  # no pipeline: exact
    df = validate(load_mot(cfg).df).set_index(["model", "query_id", "sample"])
    assert df.loc[("ma", "0", 0), "score"] == 1.0
    assert df.loc[("ma", "0", 1), ["answer", "score"]].tolist() == ["5/1/2021", 0.0]
    assert df.loc[("ma", "0", 2), "answer"] == "04/30/2021\n"  # raw, not stripped
    assert df.loc[("mb", "0", 0), "score"] == 0.0
    assert pd.isna(df.loc[("mb", "0", 1), "answer"]) and df.loc[("mb", "0", 1), "score"] == 0.0
    dd = validate(load_mot({**cfg, "benchmark": "bbh_date_understanding"}).df).set_index(["model", "query_id", "sample"])
    assert dd.loc[("ma", "0", 1), "score"] == 1.0
    assert dd.loc[("mb", "0", 0), "score"] == 1.0  # "May 1, 2021"
    assert dd.loc[("mb", "1", 0), "score"] == 1.0
    assert dd.loc[("ma", "0", 1), "answer"] == "5/1/2021"  # still raw


def test_bad_gold_and_gold_disagreement(tmp_path):
    root = _write(
        tmp_path,
        {
            "a.json": [_rec("Q1?", "05/01/2021", ["x"])],
            "two.json": [_rec("Q1?", {"05/01/2021": 1, "05/02/2021": 1}, ["x"])],
            "other.json": [_rec("Q1?", "05/02/2021", ["x"])],
            "num.json": [_rec("Q1?", 5, ["x"])],
        },
    )
    with pytest.raises(OutcomeError, match="2 gold entries"):
        load_mot({"root": root, "files": {"a": "a.json", "b": "two.json"}})
    with pytest.raises(OutcomeError, match="gold answer at position 0"):
        load_mot({"root": root, "files": {"a": "a.json", "b": "other.json"}})
    with pytest.raises(OutcomeError, match="must be a string"):
        load_mot({"root": root, "files": {"a": "num.json"}})


def test_malformed_files(tmp_path):
    root = _write(tmp_path, {"obj.json": {"question": "x"}, "rec.json": [{"question": "x"}]})
    (tmp_path / "mot_date" / "bad.json").write_text("{not json")
    with pytest.raises(OutcomeError, match="JSON list"):
        load_mot({"root": root, "files": {"a": "obj.json"}})
    with pytest.raises(OutcomeError, match="record 0 is malformed"):
        load_mot({"root": root, "files": {"a": "rec.json"}})
    with pytest.raises(OutcomeError, match="not valid JSON"):
        load_mot({"root": root, "files": {"a": "bad.json"}})


def test_score_normalizer_is_gone(tmp_path):
    root = _write(tmp_path, {"a.json": [_rec("Q?", "1", ["1"])]})
    with pytest.raises(ConfigError, match="answer pipeline of data.benchmark"):
        load_mot({"root": root, "files": {"a": "a.json"}, "score_normalizer": "date"})


def test_missing_file_without_download(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(OutcomeError, match="not found"):
        load_mot({"root": str(tmp_path), "files": {"a": "nope.json"}})
    with pytest.raises(OutcomeError, match="downloads are off"):
        load_mot({"root": str(tmp_path), "files": {"gpt-4": "GPT4_date_cot1.json"}, "download": False})


def test_download_is_checked_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path / "cache"))
    blob = json.dumps([_rec("Q?", "01/01/2000", ["01/01/2000"])]).encode()
    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        return io.BytesIO(blob)

    monkeypatch.setattr(download.urllib.request, "urlopen", fake_urlopen)
    cfg = {"root": str(tmp_path / "empty"), "files": {"gpt-4": "GPT4_date_cot1.json"}}
    with pytest.raises(OutcomeError, match="SHA-256"):
        load_mot(cfg)
    assert calls == [f"https://raw.githubusercontent.com/MurongYue/LLM_MoT_cascade/{mot.COMMIT}/GPT4_result/date_cot1.json"]
    assert not (mot.cache_dir() / "GPT4_date_cot1.json").exists()
    monkeypatch.setitem(mot.RELEASE, "GPT4_date_cot1.json", ("GPT4_result/date_cot1.json", hashlib.sha256(blob).hexdigest()))
    raw = load_mot(cfg)
    assert len(raw.df) == 1 and list(raw.files) == [str(mot.cache_dir() / "GPT4_date_cot1.json")]
    load_mot(cfg)  # second time from the cache
    assert len(calls) == 2
