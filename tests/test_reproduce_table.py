"""CI reproducibility check: regenerate a committed table from scratch (every job of its sweep,
fresh caches, the real CLIs) and fail if one byte differs from the file in results/.

Table 6 on MoT (BBH date understanding) is the smallest committed one: 25 jobs (5 ensemble
strategies x 5 seeds) over 369 queries, about a minute on 2 cores. It runs the whole recipe:
the import, seeded splits, MiniLM embeddings, k-means, routing and voting.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys

import pytest

from support import REPO

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

# experiment config -> the committed files it produces (results/<suite>/<table>.*)
TABLES = {"table6_ensemble": "mot_date/table6_ensemble"}


@pytest.mark.parametrize("experiment", sorted(TABLES))
def test_committed_table_regenerates_byte_for_byte(experiment, tmp_path, data_root):
    suite, table = TABLES[experiment].split("/")
    committed = sorted((REPO / "results" / suite).glob(f"{table}.*"))
    assert committed, f"nothing committed under results/{suite}/{table}.*"
    env = dict(os.environ, AVENGERS_CACHE_DIR=str(tmp_path / "cache"), AVENGERS_OUTPUT_DIR=str(tmp_path / "outputs"),
               AVENGERS_DATA_DIR=str(data_root), WANDB_MODE="disabled")
    env.pop("AVENGERS_PIN_NUMERICS", None)
    # As experiments/run.sh does, from a folder whose outputs/ the sidecar names relative paths in.
    sweep = subprocess.run([sys.executable, "-m", "avengers.run", "-m", f"experiment={experiment}", "tracking=disabled"],
                           cwd=REPO, env=env, capture_output=True, text=True)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert "0 failed" in sweep.stdout, sweep.stdout[-3000:]
    tables = subprocess.run([sys.executable, "-m", "avengers.report.cli", "--runs", f"outputs/{experiment}", "--out",
                             "results", "--suite", suite, "--table", table], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert tables.returncode == 0, tables.stderr[-3000:]

    made = sorted((tmp_path / "results" / suite).glob(f"{table}.*"))
    assert [p.name for p in made] == [p.name for p in committed]
    for want, got in zip(committed, made):
        if want.read_bytes() == got.read_bytes():
            continue
        diff = ""
        if want.suffix in (".md", ".csv", ".tex", ".json"):
            diff = "".join(list(difflib.unified_diff(want.read_text().splitlines(True), got.read_text().splitlines(True),
                                                     f"committed {want.name}", f"regenerated {got.name}"))[:60])
        pytest.fail(f"results/{suite}/{want.name} does not regenerate byte for byte. If the change is intended, run "
                    f"`bash experiments/run.sh {experiment}` and commit results/.\n{diff}")
