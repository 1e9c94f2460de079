"""embedder=static_minilm: a model2vec table distilled once from the packaged MiniLM, cached,
checked on load; and a clear message when the optional extra is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from avengers.errors import ConfigError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_missing_extra_names_the_install_command(monkeypatch):
    from avengers.embed import static

    real = importlib.util.find_spec
    monkeypatch.setattr(static.importlib.util, "find_spec", lambda name, *a: None if name == "model2vec" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'avengers-harness\[static\]'"):
        static.Model2VecEmbedder()


def test_identity_names_teacher_and_recipe(cache):
    from avengers.embed.static import Model2VecEmbedder

    a, b = Model2VecEmbedder(), Model2VecEmbedder(pca_dims=128)
    assert a.identity.startswith("static:model2vec-0.")
    assert "teacher=packaged:all-MiniLM-L6-v2:" in a.identity and "pca=256" in a.identity
    assert a.identity != b.identity and a.model_dir != b.model_dir
    assert a.model_dir.parent == cache / "models"
    with pytest.raises(ConfigError, match="sif_coefficient"):
        Model2VecEmbedder(sif_coefficient=2)


def _fake_distil(calls):
    """Stands in for the minutes-long distillation: a random table over MiniLM's tokenizer."""

    def distil(self, out: Path) -> None:
        from model2vec import StaticModel
        from tokenizers import Tokenizer

        calls.append(out)
        tok = Tokenizer.from_file(str(self.teacher_path / "tokenizer.json"))
        vecs = np.random.default_rng(0).normal(size=(tok.get_vocab_size(), 8)).astype(np.float32)
        StaticModel(vectors=vecs, tokenizer=tok, normalize=True).save_pretrained(str(out))

    return distil


def test_distilled_once_then_reused_and_a_damaged_copy_is_rebuilt(cache, monkeypatch, caplog):
    from avengers.embed.static import Model2VecEmbedder

    calls: list[Path] = []
    monkeypatch.setattr(Model2VecEmbedder, "_distil", _fake_distil(calls))
    e = Model2VecEmbedder()
    v = e.encode(["What is 2 + 2?", "Who wrote Hamlet?"])
    assert v.shape == (2, 8) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert len(calls) == 1 and e.model_dir.is_dir()
    assert not [p for p in e.model_dir.parent.iterdir() if p.name.endswith(".tmp")]
    np.testing.assert_array_equal(Model2VecEmbedder().encode(["What is 2 + 2?", "Who wrote Hamlet?"]), v)
    assert len(calls) == 1  # reused from the cache

    weights = e.model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])  # truncated by a full disk, say
    with caplog.at_level("WARNING"):
        again = Model2VecEmbedder().encode(["What is 2 + 2?", "Who wrote Hamlet?"])
    assert len(calls) == 2
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert str(e.model_dir) in msg and "model.safetensors does not match" in msg
    assert Path(f"{e.model_dir}.corrupt-1").is_dir()
    np.testing.assert_array_equal(again, v)


@pytest.mark.slow
@pytest.mark.realdata
def test_real_distillation_separates_benchmarks(cache, data_root, monkeypatch):
    """The real distillation (minutes on 2 cores), on real RouterDC queries: queries of one
    benchmark are closer to each other than to another benchmark's."""
    import json

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from avengers.embed.static import Model2VecEmbedder

    e = Model2VecEmbedder()
    gsm = [r["question"] for r in _rows(data_root / "routerdc" / "gsm8k-test.json")][:60]
    mmlu = [r["question"] for r in _rows(data_root / "routerdc" / "mmlu_test.json")][:60]
    a, b = e.encode(gsm), e.encode(mmlu)
    assert a.shape == (60, 256) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    within = ((a @ a.T).sum() - 60) / (60 * 59)
    across = (a @ b.T).mean()
    assert within > across + 0.05, (within, across)
    manifest = json.loads((e.model_dir / "avengers_distilled.json").read_text())
    assert manifest["identity"] == e.identity and "model.safetensors" in manifest["files"]


def _rows(path: Path) -> list[dict]:
    import json

    data = json.loads(path.read_text())
    return data if isinstance(data, list) else list(data.values())
