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


def test_bfloat16_is_its_own_cache_and_close_to_float32(monkeypatch, data_root):
    """embedder.dtype=bfloat16 on real RouterDC queries: its own identity, vectors within
    cosine 0.99 of float32 (bf16 keeps 8 bits of mantissa; measured ~0.9999)."""
    import json as _json

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from avengers.embed.sentence import SentenceTransformerEmbedder

    rows = _json.loads((data_root / "routerdc" / "gsm8k-test.json").read_text())[:6]
    texts = [r["question"] for r in rows]
    fp32 = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", device="cpu")
    bf16 = SentenceTransformerEmbedder(name="minilm", model="packaged:all-MiniLM-L6-v2", device="cpu", dtype="bfloat16")
    assert bf16.identity == fp32.identity + ":dtype=bfloat16"
    a, b = fp32.encode(texts), bf16.encode(texts)
    assert b.dtype == np.float32 and b.shape == a.shape == (6, 384)
    cos = (a * b).sum(1)
    assert cos.min() > 0.99 and not np.array_equal(a, b)
