"""Stage 1: embed queries. Embedders are `_target_` configs; every vector goes through a
content-addressed cache (embedder identity + text hash), so a text is embedded once."""

from avengers.embed.base import Embedder
from avengers.embed.cache import CachedEmbedder, EmbeddingCache

__all__ = ["Embedder", "CachedEmbedder", "EmbeddingCache"]
