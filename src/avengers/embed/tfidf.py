"""TF-IDF + truncated SVD (LSA): a cheap lexical embedder, fitted on calibration texts only."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from avengers.embed.base import l2_normalise


class TfidfSvdEmbedder:
    def __init__(self, name: str = "tfidf", n_components: int = 256, max_features: int | None = 50000,
                 ngram_range: tuple[int, int] = (1, 2), sublinear_tf: bool = True, seed: int = 0) -> None:
        self.name = name
        self.n_components = int(n_components)
        self.max_features = max_features
        self.ngram_range = tuple(ngram_range)
        self.sublinear_tf = sublinear_tf
        self.seed = int(seed)
        self._corpus_hash: str | None = None
        self._pipe = None

    @property
    def identity(self) -> str:
        if self._corpus_hash is None:
            raise RuntimeError("TfidfSvdEmbedder.fit(calibration texts) must run before encoding.")
        return (f"tfidf:{self.n_components}:{self.max_features}:{self.ngram_range}:{self.sublinear_tf}:"
                f"seed={self.seed}:corpus={self._corpus_hash}")

    def fit(self, texts: Sequence[str]) -> None:
        h = hashlib.sha256()
        for t in texts:
            h.update(hashlib.sha256(t.encode()).digest())
        self._corpus_hash = h.hexdigest()[:16]
        self._texts = list(texts)
        self._pipe = None  # fitted lazily: only on a cache miss

    def _fitted(self):
        if self._pipe is None:
            from sklearn.decomposition import TruncatedSVD
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.pipeline import make_pipeline

            vec = TfidfVectorizer(max_features=self.max_features, ngram_range=self.ngram_range,
                                  sublinear_tf=self.sublinear_tf)
            x = vec.fit_transform(self._texts)
            k = max(1, min(self.n_components, x.shape[1] - 1, x.shape[0] - 1))
            svd = TruncatedSVD(n_components=k, random_state=self.seed)
            svd.fit(x)
            self._pipe = make_pipeline(vec, svd)
        return self._pipe

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return l2_normalise(self._fitted().transform(list(texts)))
