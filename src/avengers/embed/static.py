"""A static embedder: a token-vector table distilled once from a sentence-transformers teacher
with model2vec (one forward pass per vocabulary token, PCA, Zipf/SIF weights). Encoding is then
a lookup and a mean, with no transformer at all.

The distilled model lives in the user cache, `<cache>/models/static-<hash of its identity>/`,
written atomically under a lock, with a manifest of its files' SHA-256 that is checked on every
load; a damaged folder is moved aside and distilled again.

Needs the optional extra: pip install 'avengers-harness[static]' (model2vec, and skeletoken to
distill). Not `model2vec[distill]`: that extra pins transformers<5.4, older than the core stack,
while the distillation code itself runs on the installed transformers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from avengers.assets import cache_root
from avengers.embed.base import l2_normalise
from avengers.embed.sentence import _fingerprint, resolve_model
from avengers.errors import AvengersError, ConfigError
from avengers.files import atomic_write_json, sha256_file

log = logging.getLogger(__name__)

INSTALL = "pip install 'avengers-harness[static]'"
MANIFEST = "avengers_distilled.json"


def _require(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"The static embedder needs the package {module} ({why}), which is not installed. "
                          f"Install the optional extra: {INSTALL}")


class Model2VecEmbedder:
    def __init__(self, name: str = "static_minilm", teacher: str = "packaged:all-MiniLM-L6-v2",
                 pca_dims: int = 256, sif_coefficient: float = 1e-4, max_length: int | None = 512,
                 batch_size: int = 1024) -> None:
        _require("model2vec", "static embeddings")
        self.name = name
        self.teacher = teacher
        self.teacher_path = Path(resolve_model(teacher))
        if not self.teacher_path.is_dir():
            raise ConfigError(f"embedder.teacher={teacher!r} must be a packaged model or a local folder "
                              f"(distillation reads the weights offline).")
        self.pca_dims = int(pca_dims)
        self.sif_coefficient = float(sif_coefficient)
        if not 0 < self.sif_coefficient < 1:
            raise ConfigError(f"embedder.sif_coefficient={sif_coefficient} must lie strictly between 0 and 1.")
        self.max_length = None if max_length is None else int(max_length)
        self.batch_size = int(batch_size)
        self._model = None

    @property
    def identity(self) -> str:
        m2v = ".".join(md.version("model2vec").split(".")[:2])  # the distillation recipe's version
        return (f"static:model2vec-{m2v}:teacher={self.teacher}:{_fingerprint(self.teacher_path)}:"
                f"pca={self.pca_dims}:sif={self.sif_coefficient:g}:maxlen={self.max_length}")

    @property
    def model_dir(self) -> Path:
        tag = hashlib.sha256(self.identity.encode()).hexdigest()[:16]
        return cache_root() / "models" / f"static-{tag}"

    def fit(self, texts: Sequence[str]) -> None:
        pass

    def _problem(self, folder: Path) -> str | None:
        """Why the distilled folder cannot be used, or None when it checks out."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            return f"its manifest {MANIFEST} is unreadable ({e.__class__.__name__})"
        if not isinstance(manifest, dict) or manifest.get("identity") != self.identity:
            return "its manifest belongs to another distillation"
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            return "its manifest lists no files"
        for rel, digest in sorted(files.items()):
            p = folder / rel
            if not p.is_file():
                return f"{rel} is missing"
            if sha256_file(p) != digest:
                return f"{rel} does not match its recorded SHA-256"
        return None

    def ensure_distilled(self) -> Path:
        """The distilled model's folder, distilling it first if the cache has none (or a bad one)."""
        from filelock import FileLock

        dest = self.model_dir
        if dest.is_dir() and self._problem(dest) is None:
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(dest) + ".lock"):
            if dest.is_dir():
                problem = self._problem(dest)
                if problem is None:
                    return dest  # another job distilled it while we waited
                n = 1
                while Path(f"{dest}.corrupt-{n}").exists():
                    n += 1
                os.replace(dest, f"{dest}.corrupt-{n}")
                log.warning("Distilled static model %s is damaged (%s); moved it aside to %s.corrupt-%d "
                            "and will distil it again.", dest, problem, dest, n)
            tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
            try:
                self._distil(tmp)
                files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
                atomic_write_json(tmp / MANIFEST, {"identity": self.identity, "files": files})
                os.replace(tmp, dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return dest

    def _distil(self, out: Path) -> None:
        _require("skeletoken", "needed to distil")
        log.info("distilling a static embedder from %s (once; cached in %s)", self.teacher, self.model_dir)
        from model2vec.distill import distill_from_model
        from transformers import AutoModel, AutoTokenizer

        model = AutoModel.from_pretrained(str(self.teacher_path))
        tokenizer = AutoTokenizer.from_pretrained(str(self.teacher_path))
        # On the CPU whatever the machine has, in float32: the table is made once and reused.
        static = distill_from_model(model, tokenizer, device="cpu", pca_dims=self.pca_dims,
                                    sif_coefficient=self.sif_coefficient, quantize_to="float32")
        static.save_pretrained(str(out))

    def _load(self):
        if self._model is None:
            from model2vec import StaticModel

            self._model = StaticModel.from_pretrained(str(self.ensure_distilled()), normalize=True,
                                                      max_length=self.max_length)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vecs = self._load().encode(list(texts), batch_size=self.batch_size, use_multiprocessing=False)
        vecs = np.asarray(vecs, dtype=np.float32)
        if vecs.ndim != 2:
            raise AvengersError(f"The static model returned an array of shape {vecs.shape}; expected (texts, dim).")
        return l2_normalise(vecs)
