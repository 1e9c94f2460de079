from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    `identity` must change whenever the vectors could change (weights, tokenizer, pooling,
    fitted vocabulary): it is half of the cache key.
    """

    name: str

    @property
    def identity(self) -> str: ...

    def fit(self, texts: Sequence[str]) -> None:
        """Called with the calibration texts before encoding (no-op for pretrained models)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)
