"""A result's identity comes from its content: one list of result-neutral keys, no paths in the
hash or in metrics.json, data named by checksum, numeric kernels pinned before numpy loads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from avengers.provenance import RESULT_NEUTRAL_KEYS, data_checksums, drop_keys, result_config
from support import REPO, compose_cfg


def tiny_outcomes(path, score_of_q0=1.0):
    rows = [dict(benchmark="b", query_id=f"q{i}", query=f"question number {i}", model=m, sample=0,
                 score=score_of_q0 if (i, m) == (0, "x") else float((i + (m == "y")) % 2))
            for i in range(12) for m in ("x", "y")]
    from avengers.outcomes.schema import write_outcomes

    write_outcomes(pd.DataFrame(rows), path)


def test_result_config_drops_every_neutral_key_and_nothing_else():
    cfg = {"seed": 1, "paths": {"cache_dir": "/c"}, "tracking": {"mode": "offline"}, "skip_existing": True,
           "data": {"root": "/d", "path": "/d/x.parquet", "source": "outcomes", "test_size": 0.3},
           "clustering": {"n_clusters": 8}}
    out = result_config(cfg)
    assert out == {"seed": 1, "data": {"source": "outcomes", "test_size": 0.3}, "clustering": {"n_clusters": 8}}
    assert cfg["data"]["root"] == "/d"  # the input is not modified
    assert drop_keys({"a": 1}, ("a.b", "x.y")) == {"a": 1}


def test_the_one_neutral_list_feeds_report_and_hydra_folder_names(tmp_path):
    from avengers.report.jobs import DEFAULT_IGNORED_KEYS

    assert DEFAULT_IGNORED_KEYS == RESULT_NEUTRAL_KEYS
    from hydra import compose, initialize_config_dir

    from avengers.run import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "paths.cache_dir=/x", "tracking=disabled", "data.root=/y", "skip_existing=false", "seed=3"],
            return_hydra_config=True)
    excluded = list(cfg.hydra.job.config.override_dirname.exclude_keys)
    for key in ("paths", "paths.cache_dir", "paths.data_root", "paths.output_root", "tracking", "tracking.mode",
                "data.root", "skip_existing", "experiment", "name"):
        assert key in excluded
    assert "data.path" not in excluded  # the data file still names the job folder
    assert cfg.hydra.job.override_dirname == "seed=3"


def test_data_is_named_the_same_wherever_it_lies(tmp_path):
    a = {f"/root/a/routerdc/{n}.json": n for n in ("mmlu_train", "gsm8k-test")}
    b = {f"/home/u/.cache/avengers/data/routerdc/0e63/{n}.json": n for n in ("mmlu_train", "gsm8k-test")}
    assert data_checksums(a) == data_checksums(b) == {"gsm8k-test.json": "gsm8k-test", "mmlu_train.json": "mmlu_train"}
    # Same base names in several folders (one file per model): relative to the folder they share.
    clash = {"/x/rel/m1/bench.json": "1", "/x/rel/m2/bench.json": "2", "/x/rel/README": "3"}
    assert data_checksums(clash) == {"m1/bench.json": "1", "m2/bench.json": "2", "README": "3"}


def test_config_hash_follows_data_content_not_location(tmp_path):
    from avengers.pipeline import config_hash, load_table

    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    tiny_outcomes(tmp_path / "a" / "o.parquet")
    shutil.copy(tmp_path / "a" / "o.parquet", tmp_path / "b" / "o.parquet")

    def chash(where, root):
        cfg = compose_cfg(["data=outcomes", f"data.path={tmp_path / where / 'o.parquet'}"], cache=tmp_path / f"c{where}",
                          data_root=tmp_path / root)
        return config_hash(cfg, load_table(cfg.data))

    assert chash("a", "a") == chash("b", "b") == chash("a", "b")
    tiny_outcomes(tmp_path / "b" / "o.parquet", score_of_q0=0.0)  # same path, other content
    assert chash("b", "b") != chash("a", "a")


def test_numeric_kernels_are_pinned_before_numpy_loads_and_user_values_win():
    code = ("import os, avengers.run, numpy, scipy.linalg; from threadpoolctl import threadpool_info; "
            "import json; print(json.dumps([os.environ.get('OPENBLAS_CORETYPE'), os.environ.get('MKL_CBWR'), "
            "sorted({i.get('architecture') for i in threadpool_info() if i['internal_api'] == 'openblas'})]))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "MKL_CBWR", "NPY_DISABLE_CPU_FEATURES")}
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if " avx2" not in flags or " fma" not in flags:
        pytest.skip("pinning applies to x86-64 CPUs with AVX2 + FMA only")

    def run(**extra):
        out = subprocess.run([sys.executable, "-c", code], env={**env, **extra}, cwd=REPO, capture_output=True,
                             text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    assert run() == ["Haswell", "AVX2", ["Haswell"]]
    assert run(OPENBLAS_CORETYPE="Sandybridge")[::2] == ["Sandybridge", ["Sandybridge"]]
    assert run(AVENGERS_PIN_NUMERICS="0")[:2] == [None, None]
