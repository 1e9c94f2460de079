"""The Python API and avengers-route: the README example runs as written, a saved router routes
like the one that was saved, a job folder's router routes its test queries as the job did."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support import REPO, run_cli

from avengers import Router
from avengers.errors import AvengersError, ConfigError

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

TINY = ["embedder=tfidf", "embedder.n_components=32", "clustering.n_clusters=4", "data.max_queries_per_benchmark=30"]


def readme_block(heading: str, lang: str) -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index(heading):]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def route_cli(args: list[str], stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avengers.api", *args], input=stdin, capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture
def in_data(monkeypatch, tmp_path, data_root, shared_cache):
    monkeypatch.setenv("AVENGERS_DATA_DIR", str(data_root))
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(shared_cache))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_python_example_runs_and_matches_the_cli(in_data, data_root, shared_cache):
    code = readme_block("## Python API", "python")
    assert len(code.strip().splitlines()) <= 10
    ns: dict = {}
    exec(compile(code, "README.md#python-api", "exec"), ns)  # the assert inside checks save/load
    router = ns["router"]
    assert (in_data / "my_router" / "router.json").is_file() and (in_data / "my_router" / "arrays.npz").is_file()
    assert len(router.models) == 7 and router.top_n == 1
    routed = router.route(ns["queries"])
    assert all(r["models"][0] == max(r["scores"], key=r["scores"].get) for r in routed)

    # The same settings on the command line fit the same router (the job saves it in router/).
    out = in_data / "out"
    run_cli(["embedder=tfidf", "clustering=kmeans", "seed=0", "clustering.n_clusters=8",
             "data.max_queries_per_benchmark=50"], cache=shared_cache, out=out, data_root=data_root)
    (job,) = [p.parent for p in out.rglob("metrics.json")]
    mine, theirs = router._router.get_state(), Router.load(job)._router.get_state()
    assert mine[0] == theirs[0] and mine[1].keys() == theirs[1].keys()
    for k in mine[1]:
        np.testing.assert_array_equal(mine[1][k], theirs[1][k])

    # avengers-route: arguments, and JSON Lines on stdin (other fields passed through)
    proc = route_cli(["--router", "my_router", *ns["queries"]])
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["models"] for line in proc.stdout.splitlines()] == [r["models"] for r in routed]
    stdin = json.dumps({"id": 7, "query": ns["queries"][1]}) + "\n\n" + json.dumps(ns["queries"][0]) + "\n"
    proc = route_cli(["--router", "my_router"], stdin=stdin)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [x["models"] for x in lines] == [routed[1]["models"], routed[0]["models"]] and lines[0]["id"] == 7
    assert lines[0]["scores"] == pytest.approx(routed[1]["scores"])
    bad = route_cli(["--router", "my_router"], stdin="not json\n")
    assert bad.returncode == 2 and "stdin line 1 is not JSON" in bad.stderr and "Traceback" not in bad.stderr


def test_job_folder_router_routes_its_test_queries_as_the_job_did(tmp_path, data_root, shared_cache):
    run_cli(TINY, cache=shared_cache, out=tmp_path, data_root=data_root)
    (job,) = [p.parent for p in tmp_path.rglob("metrics.json")]
    pred = pd.read_parquet(job / "predictions.parquet")
    pred = pred[pred.router == "avengers"]
    router = Router.load(job / "router", cache_dir=False)  # embeds afresh: no cached vectors
    routed = router.route(list(pred["query"]))
    assert [",".join(r["models"]) for r in routed] == list(pred["model"])

    # a saved router whose embedder differs (another fitted vocabulary) is refused, not used
    doc = json.loads((job / "router" / "router.json").read_text())
    doc["embedder"]["identity"] = doc["embedder"]["identity"].replace("corpus=", "corpus=0")
    (job / "router" / "router.json").write_text(json.dumps(doc))
    with pytest.raises(AvengersError, match="was fitted on embeddings from .* but the embedder built here"):
        Router.load(job)
    with pytest.raises(AvengersError, match="is not a saved router"):
        Router.load(tmp_path / "nowhere")


def test_from_a_canonical_dataframe_and_did_you_mean(in_data, data_root):
    """Outcomes as a DataFrame (RouterBench exported to the canonical schema); typos say what to type."""
    from omegaconf import OmegaConf

    from avengers.outcomes import load_outcomes

    cfg = OmegaConf.load(REPO / "src/avengers/conf/data/routerbench.yaml")
    cfg.root = str(data_root)
    df = load_outcomes(cfg).df
    router = Router.from_outcomes(df, embedder="tfidf", clustering__n_clusters=4, embedder__n_components=32)
    assert len(router.models) == 11
    (r,) = router.route("Which gas do plants take in for photosynthesis?")
    assert r["models"][0] in router.models and set(r["scores"]) == set(router.models)
    with pytest.raises(ConfigError, match="Unknown embedder 'tfidff'. Did you mean 'tfidf'"):
        Router.from_outcomes(df, embedder="tfidff")
    with pytest.raises(ConfigError, match="Outcome file .*missing.parquet.* does not exist"):
        Router.from_outcomes(in_data / "missing.parquet")
