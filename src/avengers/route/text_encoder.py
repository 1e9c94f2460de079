"""A packaged sentence-transformers model as a trainable torch query encoder (RouterDC's
`encoder: finetune`).

The transformer of the model folder (transformers `AutoModel`) followed by what
sentence-transformers puts after it for MiniLM/MPNet: mean pooling over the attention mask,
then L2 normalisation. With right-side truncation at the model's own max_seq_length the
untrained encoder gives the vectors of `embedder=minilm` (tests/route/test_routerdc_finetune.py
checks it). Texts are tokenized per batch and padded to the batch's longest text; encoding
many texts sorts them by length first (as sentence-transformers does), so batches pad little.

torch and transformers are imported inside the functions: importing the router costs nothing
when this encoder is not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from avengers.embed.base import l2_normalise
from avengers.embed.sentence import _fingerprint, resolve_model
from avengers.errors import ConfigError
from avengers.route.trained import single_threaded_torch

ENCODE_BATCH = 64  # texts per forward pass when encoding without gradients (held-out queries, routing)


@dataclass(frozen=True)
class EncoderSpec:
    """Which model is fine-tuned and how texts are cut: everything the encoder's vectors depend on."""

    model: str  # packaged:<name>, or a local sentence-transformers folder
    max_seq_length: int
    truncation_side: str  # "left" keeps a long text's end, "right" its start

    @cached_property
    def path(self) -> Path:
        path = Path(resolve_model(self.model))
        if not path.is_dir():
            raise ConfigError(f"router.finetune_model={self.model!r} is not a local model folder (the Hugging Face "
                              f"Hub is not used here); use packaged:all-MiniLM-L6-v2 or a sentence-transformers folder.")
        self._check_pooling(path)
        return path

    @cached_property
    def fingerprint(self) -> str:
        return _fingerprint(self.path)

    @property
    def identity(self) -> str:
        return (f"{self.model}:{self.fingerprint}:len={self.max_seq_length}:trunc={self.truncation_side}"
                f":pool=mean:norm")

    def _check_pooling(self, path: Path) -> None:
        """Only mean pooling is implemented: refuse a folder whose sentence-transformers pipeline differs."""
        try:
            modules = json.loads((path / "modules.json").read_text())
            pooling = next(m for m in modules if m["type"].endswith(".Pooling"))
            cfg = json.loads((path / pooling["path"] / "config.json").read_text())
        except (OSError, ValueError, KeyError, StopIteration):
            raise ConfigError(f"router.finetune_model={self.model!r}: {path} is not a sentence-transformers folder "
                              f"with a Pooling module (modules.json, 1_Pooling/config.json).") from None
        modes = sorted(k for k, v in cfg.items() if k.startswith("pooling_mode") and v)
        if modes != ["pooling_mode_mean_tokens"]:
            raise ConfigError(f"router.finetune_model={self.model!r} pools by {modes}; the fine-tuned encoder "
                              f"implements mean pooling only (MiniLM, MPNet).")

    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(self.path))
        tok.truncation_side = self.truncation_side
        return tok

    def transformer(self) -> Any:
        """The pretrained transformer in float32 (its weights as the folder ships them)."""
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # its "Loading weights" bar, once per load, says nothing here
        try:
            model = AutoModel.from_pretrained(str(self.path)).to(torch.float32)
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        limit = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        if limit and self.max_seq_length > limit:
            raise ConfigError(f"router.max_seq_length={self.max_seq_length} exceeds the {limit} positions of "
                              f"{self.model}; use at most {limit}.")
        return model


def text_encoder_module(torch: Any, spec: EncoderSpec) -> Any:
    """nn.Module: tokenized batch -> mean-pooled (unnormalised) vectors."""
    nn = torch.nn

    class TextEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = spec.transformer()

        def forward(self, features):
            tokens = self.transformer(**features).last_hidden_state
            mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            return (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)  # as sentence-transformers

    return TextEncoder()


class TextBatches:
    """Texts indexed by row tensors, tokenized on demand (a training batch, a chunk to encode)."""

    def __init__(self, texts: Sequence[str], tokenizer: Any, max_seq_length: int, device: Any) -> None:
        self.texts = list(texts)
        self.tokenizer, self.max_seq_length, self.device = tokenizer, int(max_seq_length), device

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, rows: Any) -> dict[str, Any]:
        texts = [self.texts[int(i)] for i in rows]
        feats = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                               return_tensors="pt")
        return {k: v.to(self.device) for k, v in feats.items()}


def encode(torch: Any, module: Any, batches: TextBatches, batch_size: int = ENCODE_BATCH) -> Any:
    """(n, d) L2-normalised vectors of all texts (no gradients, dropout off), in text order."""
    n = len(batches)
    order = sorted(range(n), key=lambda i: -len(batches.texts[i]))  # longest first, stable
    was_training = module.training
    module.eval()
    out = [None] * n
    try:
        with torch.no_grad():
            for s in range(0, n, batch_size):
                rows = order[s:s + batch_size]
                vecs = torch.nn.functional.normalize(module(batches[rows]), dim=1)
                for i, v in zip(rows, vecs):
                    out[i] = v
    finally:
        module.train(was_training)
    if n == 0:
        return torch.zeros((0, 0))
    return torch.stack(out)


class PretrainedEncoder:
    """The untrained encoder as an embedder (`avengers.embed.base.Embedder`), for the embedding
    cache: RouterDC clusters the training queries on these vectors, as the release clusters
    its encoder's embeddings before training."""

    batch_size = ENCODE_BATCH

    def __init__(self, spec: EncoderSpec) -> None:
        self.spec = spec
        self.name = f"routerdc-init:{spec.model}"
        self._module: Any = None
        self._tokenizer: Any = None

    @property
    def identity(self) -> str:
        return f"routerdc-init-encoder:{self.spec.identity}"

    def fit(self, texts: Sequence[str]) -> None:
        pass

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with single_threaded_torch() as torch:
            if self._module is None:
                self._module, self._tokenizer = text_encoder_module(torch, self.spec), self.spec.tokenizer()
            batches = TextBatches(texts, self._tokenizer, self.spec.max_seq_length, torch.device("cpu"))
            return l2_normalise(encode(torch, self._module, batches).numpy())
