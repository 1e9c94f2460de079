"""Shared training loop of the torch routers (mlp, embedllm, routerdc).

Reproducible by construction: the job seed drives initialisation (torch.manual_seed) and the
data order (a seeded torch.Generator); training runs single-threaded in float32 with
torch.use_deterministic_algorithms(True), so a rerun gives identical bytes.

Hyperparameters and the checkpoint (the training step to keep) are chosen honestly, on a
held-out part of the CALIBRATION split (`holdout`, stratified by benchmark): each candidate
of `search` is trained on the rest, every `eval_every` steps it routes the held-out queries,
and the best (candidate, step) is kept (ties: the first listed, the earliest step). One
training per candidate, where K-fold CV would need K + 1. The † variant (`peek_test`)
instead trains on the whole calibration split and picks by the TEST score.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError
from avengers.route.base import CalibrationSet
from avengers.route.tuned import TunedRouter, positive_float, positive_int
from avengers.route.tuning import expand_grid, macro_mean, params_text
from avengers.split import rng_for

log = logging.getLogger(__name__)

TRAINING_KEYS = ("steps", "batch_size", "learning_rate", "weight_decay", "eval_every", "holdout")


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[Any]:
    """Single-threaded torch with deterministic algorithms: results identical on every machine
    (the thread count changes how matrix products are summed, and so their last bits)."""
    import torch

    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)


def check_torch_device(device: str) -> None:
    """router.device: cpu, or cuda when torch sees a GPU (then with deterministic cuBLAS)."""
    import torch

    if device == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("router.device=cuda but torch sees no CUDA device; use router.device=cpu.")
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    elif device != "cpu":
        raise ConfigError(f"router.device={device!r}: use cpu or cuda.")


@contextlib.contextmanager
def deterministic_torch(seed: int, device: str) -> Iterator[Any]:
    """Seeded, deterministic, single-threaded torch for the duration of one fit."""
    import torch

    check_torch_device(device)
    with single_threaded_torch():
        torch.manual_seed(seed)
        yield torch


def holdout_split(data: CalibrationSet, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices: `fraction` of each benchmark's calibration queries held out."""
    b = np.asarray(data.benchmarks)
    held = []
    for name in sorted(set(b)):
        idx = np.flatnonzero(b == name)
        k = int(round(fraction * len(idx)))
        if 0 < k < len(idx):
            held.append(rng_for(seed, "router_holdout", name).permutation(idx)[:k])
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(data.n), held_idx)
    return train, held_idx


class TrainedRouter(TunedRouter):
    """A torch router trained by minibatch steps with checkpoint selection (see the module doc)."""

    progress_level = logging.DEBUG  # log level of the per-evaluation progress lines

    def __init__(self, *, device: str = "cpu", **kwargs: Any) -> None:
        self.device = str(device)
        self.train_timing: dict[str, Any] = {}
        super().__init__(**kwargs)

    def validate(self, params):
        positive_int("steps", params["steps"], self.name)
        positive_int("batch_size", params["batch_size"], self.name)
        positive_int("eval_every", params["eval_every"], self.name)
        positive_float("learning_rate", params["learning_rate"], self.name)
        positive_float("weight_decay", params["weight_decay"], self.name, allow_zero=True)
        h = params["holdout"]
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0.0 < h < 1.0:
            raise ConfigError(f"router.holdout={h!r} must be a fraction in (0, 1): the share of calibration "
                              f"queries held out to choose the checkpoint (router={self.name}).")

    def _check(self, params, n_train):
        if n_train < 4:
            return f"{n_train} calibration queries are too few to train and hold some out; use more calibration data."
        return None

    def cache_key(self) -> dict[str, Any]:
        return {**super().cache_key(), "device": self.device}

    # -- subclasses ------------------------------------------------------------------------
    def build(self, torch: Any, data: CalibrationSet, params: Mapping[str, Any], seed: int) -> Any:
        """The nn.Module to train (parameters initialised from the seeded global RNG)."""
        raise NotImplementedError

    def features(self, torch: Any, embeddings: np.ndarray, texts: Sequence[str], device: Any) -> Any:
        """What the module sees of these queries, indexable by a tensor of rows: by default
        their embeddings as an (n, d) tensor (RouterDC's fine-tuned encoder: their texts)."""
        return torch.as_tensor(np.asarray(embeddings, dtype=np.float32), device=device)

    def loss(self, torch: Any, module: Any, x: Any, y: Any, rows: Any, gen: Any) -> Any:
        """Loss of one batch: x the batch's `features`, y (b, M) scores, rows (b,) calibration rows."""
        raise NotImplementedError

    def values(self, torch: Any, module: Any, x: Any) -> Any:
        """(n, M) routing values of queries x (`features`), in torch (for checkpoint selection)."""
        raise NotImplementedError

    def export(self, module: Any) -> dict[str, np.ndarray]:
        """The trained weights as numpy arrays (routing runs in numpy, from these)."""
        return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}

    def prepare(self, data: CalibrationSet, train_rows: np.ndarray, params: Mapping[str, Any], seed: int) -> None:
        """Anything computed from the training rows before the loop (RouterDC: query clusters)."""

    # -- training --------------------------------------------------------------------------
    def _fit(self, data: CalibrationSet, seed: int) -> None:
        """Search (if any) and checkpoint on the held-out calibration queries; see the module doc."""
        if "holdout" in self.search:
            raise ConfigError(f"router.search.holdout: the held-out share cannot itself be searched (router={self.name}).")
        if self.peek is not None:
            train_rows = np.arange(data.n)
            val = (self.peek.embeddings, self.peek.texts, self.peek.scores, self.peek.benchmarks)
        else:
            train_rows, held = holdout_split(data, float(self.params["holdout"]), seed)
            if len(held) == 0 or len(train_rows) < 2:
                raise ConfigError(f"router={self.name}: router.holdout={self.params['holdout']} leaves no held-out "
                                  f"(or no training) calibration queries of {data.n}; use more calibration data.")
            val = (data.embeddings[held], [data.texts[i] for i in held], data.scores[held],
                   [data.benchmarks[i] for i in held])
        # Machine-dependent, so never stored or cached: read by benchmarks/bench_routers.py.
        self.train_timing = {"steps": 0, "step_seconds": 0.0, "evaluations": 0, "evaluation_seconds": 0.0}
        table, best, grid = [], None, expand_grid(self.search_space())
        for p in grid:
            params = {**self.params, **p}
            problem = self._check(params, len(train_rows))
            if problem:
                if len(grid) == 1:
                    raise ConfigError(f"router={self.name}: {problem}")
                log.warning("router=%s: candidate %s skipped: %s", self.name, params_text(p), problem)
                continue
            score, step, weights = self._train(data, train_rows, val, params, seed)
            table.append({"params": dict(p), "holdout_score": score, "step": step})
            if best is None or score > best[0]:
                best = (score, step, weights, params)
        if best is None:
            raise ConfigError(f"router={self.name}: no candidate of router.search fits {len(train_rows)} training queries.")
        self.best_score, self.best_step, self.weights, self.chosen = best[0], best[1], best[2], dict(best[3])
        self.cv_table = table if len(table) > 1 else None
        log.info("router=%s: %s, checkpoint at step %d of %d (%s score %.2f)", self.name,
                 params_text({k: self.chosen[k] for k in self.search}), self.best_step, self.chosen["steps"],
                 "TEST" if self.peek is not None else "held-out calibration", self.best_score)

    def _train(self, data: CalibrationSet, train_rows: np.ndarray, val: tuple[Any, Any, Any],
               params: Mapping[str, Any], seed: int) -> tuple[float, int, dict[str, np.ndarray]]:
        """Train one candidate; (best held-out score, its step, its weights)."""
        self.prepare(data, train_rows, params, seed)
        val_x, val_t, val_s, val_b = val
        val_s = np.asarray(val_s)
        clock = self.train_timing  # summed over the candidates of one fit
        with deterministic_torch(seed, self.device) as torch:
            dev = torch.device(self.device)
            x_all = self.features(torch, data.embeddings, data.texts, dev)
            y_all = torch.as_tensor(np.asarray(data.scores, dtype=np.float32), device=dev)
            x_val = self.features(torch, val_x, val_t, dev)
            rows = torch.as_tensor(train_rows, device=dev)
            module = self.build(torch, data, params, seed).to(dev)
            opt = torch.optim.AdamW(module.parameters(), lr=float(params["learning_rate"]),
                                    weight_decay=float(params["weight_decay"]))
            gen = torch.Generator().manual_seed(int(seed))
            steps, bs, every = int(params["steps"]), int(params["batch_size"]), int(params["eval_every"])

            def score() -> float:
                t0 = time.perf_counter()
                module.eval()
                with torch.no_grad():
                    top = self.values(torch, module, x_val).argmax(dim=1).cpu().numpy()
                module.train()
                clock["evaluations"] += 1
                clock["evaluation_seconds"] += time.perf_counter() - t0
                return macro_mean(val_s[np.arange(len(top)), top], val_b)

            best = (score(), 0, self._snapshot(module))
            order, pos = torch.randperm(len(rows), generator=gen), 0
            for step in range(1, steps + 1):
                if pos + bs > len(rows):  # a new epoch: a new seeded order (the tail is dropped)
                    order, pos = torch.randperm(len(rows), generator=gen), 0
                batch = rows[order[pos:pos + min(bs, len(rows))].to(dev)]
                pos += bs
                t0 = time.perf_counter()
                opt.zero_grad()
                loss = self.loss(torch, module, x_all[batch], y_all[batch], batch, gen)
                loss.backward()
                opt.step()
                clock["steps"] += 1
                clock["step_seconds"] += time.perf_counter() - t0
                if step % every == 0 or step == steps:
                    s = score()
                    if s > best[0]:
                        best = (s, step, self._snapshot(module))
                    log.log(self.progress_level, "router=%s step %d/%d: held-out score %.2f (best %.2f at step %d)",
                            self.name, step, steps, s, best[0], best[1])
        return best[0], best[1], {k: v.astype(np.float32) for k, v in best[2].items()}

    def _snapshot(self, module: Any) -> dict[str, np.ndarray]:
        return self.export(module)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hyperparameters": dict(self.chosen)}
        if self.cv_table:
            out["search"] = {"chosen_on": "test" if self.peek is not None else "holdout", "candidates": self.cv_table}
        out["checkpoint"] = {"step": int(self.best_step), "chosen_on": "test" if self.peek is not None else "holdout",
                             "score": float(self.best_score)}
        return out

    # -- persistence -----------------------------------------------------------------------
    def _arrays(self):
        return {f"w.{k}": v for k, v in self.weights.items()} | {
            "checkpoint": np.asarray([self.best_step, self.best_score], dtype=np.float64)}

    def _set_arrays(self, arrays):
        self.weights = {k[2:]: np.asarray(v) for k, v in arrays.items() if k.startswith("w.")}
        self.best_step, self.best_score = int(arrays["checkpoint"][0]), float(arrays["checkpoint"][1])


def training_params(steps: int, batch_size: int, learning_rate: float, weight_decay: float, eval_every: int,
                    holdout: float) -> dict[str, Any]:
    return {"steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
            "weight_decay": weight_decay, "eval_every": eval_every, "holdout": holdout}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))

