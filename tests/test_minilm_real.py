"""The paper's default embedder, offline: MiniLM from the installed wheel, on real queries."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support import run_cli

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_packaged_minilm_loads_offline_and_embeds(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from avengers.embed.sentence import SentenceTransformerEmbedder

    e = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2")
    v = e.encode(["What is 2 + 2?", "Compute the sum of two and two.", "Who wrote Hamlet?"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert e.identity.startswith("st:packaged:all-MiniLM-L6-v2:")


def test_default_job_on_a_subset_then_warm_rerun_embeds_nothing(tmp_path, data_root):
    args = ["data.max_queries_per_benchmark=40", "clustering.n_clusters=16"]
    cache = tmp_path / "cache"
    import re

    first = run_cli(args, cache=cache, out=tmp_path / "a", data_root=data_root)
    n_new = int(re.search(r"embedded (\d+) new texts", first.stderr + first.stdout).group(1))
    assert 500 <= n_new <= 520  # 5 ID benchmarks x 2 splits + 3 OOD, 40 queries each (a few repeat)
    second = run_cli(args, cache=cache, out=tmp_path / "b", data_root=data_root)
    assert f"embedded 0 new texts, {n_new} from cache" in second.stderr + second.stdout
    a = next((tmp_path / "a").rglob("metrics.json")).read_text()
    b = next((tmp_path / "b").rglob("metrics.json")).read_text()
    assert json.loads(a)["benchmarks"] == json.loads(b)["benchmarks"]
    assert json.loads(a)["config"]["embedder"]["name"] == "minilm"
