"""`router=auto`: choose the router, and its hyperparameters, by cross-validation on the
calibration split only.

The candidates are the best single model plus every hyperparameter combination of every
included router (its own `search` space, or the narrower one given in `search.<router>`).
All are scored on the same folds, held out in turn, the way the tables score (mean over
benchmarks of the per-benchmark mean). To keep the winner's curse in check the best router
must beat the best single model by more than `margin_se` paired standard errors; otherwise
auto routes everything to the best single model. The winner is then refitted on the whole
calibration split with the chosen hyperparameters fixed.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.errors import ConfigError, did_you_mean
from avengers.route.base import CalibrationSet, Router
from avengers.route.single import BestSingleRouter
from avengers.route.tuning import cv_values_many, expand_grid, macro_mean, paired_se, params_text, smallest_training_fold

log = logging.getLogger(__name__)

FALLBACK = "best_single"


class AutoRouter(Router):
    def __init__(self, candidates: Mapping[str, Router], include: Sequence[str], folds: int, margin_se: float,
                 search: Mapping[str, Mapping[str, Sequence[Any]]] | None = None, name: str = "auto", top_n: int = 1,
                 n_jobs: int = 1, extras: Mapping[str, Any] | None = None, peek_test: bool = False) -> None:
        super().__init__(name=name, top_n=top_n)
        if peek_test:
            raise ConfigError("router=auto has no † variant: it chooses among routers on the calibration split by "
                              "design. Set router.peek_test=false (the other routers take peek_test=true).")
        self.peek_test = False
        self.candidates = dict(candidates)
        self.include = [str(n) for n in include]
        self.search = {str(k): dict(v) for k, v in (search or {}).items()}
        self.folds, self.margin_se = int(folds), float(margin_se)
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise ConfigError(f"router.n_jobs={n_jobs!r} must be a positive integer (processes for the CV fits).")
        self.n_jobs = n_jobs
        self.extras = dict(extras or {})
        for n in self.include + list(self.search):
            if n not in self.candidates:
                raise ConfigError(f"router.include/search names {n!r}, which is not among router.candidates "
                                  f"({', '.join(self.candidates)}).{did_you_mean(n, self.candidates)}")
        for n in self.include:
            r = self.candidates[n]
            if not all(hasattr(r, a) for a in ("search_space", "with_params", "check_params")):
                raise ConfigError(f"router=auto: candidate {n!r} ({type(r).__name__}) cannot be tuned "
                                  f"(no search_space/with_params); remove it from router.include.")
            r.top_n = self.top_n
        if self.folds < 2:
            raise ConfigError(f"router.folds={folds} must be >= 2.")
        if self.margin_se < 0:
            raise ConfigError(f"router.margin_se={margin_se} must be >= 0.")
        self.winner: Router | None = None
        self.choice: dict[str, Any] = {}
        self.cv_table: list[dict[str, Any]] = []

    def _space(self, n: str) -> dict[str, list[Any]]:
        return self.search[n] if n in self.search else self.candidates[n].search_space()

    def _make(self, n: str, params: Mapping[str, Any]) -> Router:
        if n == FALLBACK:
            return BestSingleRouter(name=FALLBACK, top_n=self.top_n)
        r = self.candidates[n].with_params(**params)
        r.top_n = self.top_n
        return r

    def cache_key(self) -> dict[str, Any]:
        keys = {}
        for n in self.include:
            key = getattr(self.candidates[n], "cache_key", None)
            keys[n] = key() if key else type(self.candidates[n]).__qualname__
        return {"class": f"{__name__}.AutoRouter", "name": self.name, "top_n": self.top_n, "include": self.include,
                "search": self.search, "folds": self.folds, "margin_se": self.margin_se, "candidates": keys}

    def _fit(self, data: CalibrationSet, seed: int) -> None:
        n_train = smallest_training_fold(data.n, self.folds)
        rows: list[tuple[str, dict[str, Any]]] = [(FALLBACK, {})]
        for n in self.include:
            for p in expand_grid(self._space(n)):
                problem = self.candidates[n].check_params(p, n_train)
                if problem:
                    log.warning("router=auto: %s %s skipped: %s", n, params_text(p), problem)
                    continue
                rows.append((n, dict(p)))
        t0 = time.perf_counter()
        templates = [(BestSingleRouter(name=FALLBACK, top_n=self.top_n) if n == FALLBACK else self.candidates[n], p)
                     for n, p in rows]
        values = cv_values_many(templates, data, seed, self.folds, self.n_jobs)
        held = {(n, params_text(p)): v for (n, p), v in zip(rows, values)}
        log.info("router=auto: %d candidates x %d folds fitted in %.1fs (%d processes)", len(rows), self.folds,
                 time.perf_counter() - t0, self.n_jobs)
        base = held[(FALLBACK, "defaults")]
        base_score = macro_mean(base, data.benchmarks)
        self.cv_table = []
        for n, p in rows:
            v = held[(n, params_text(p))]
            score = macro_mean(v, data.benchmarks)
            self.cv_table.append({"router": n, "params": p, "cv_score": score, "gain_vs_best_single": score - base_score,
                                  "se_vs_best_single": paired_se(v - base, data.benchmarks)})
        best = max(range(len(rows)), key=lambda i: (self.cv_table[i]["cv_score"], -i))
        row = self.cv_table[best]
        if row["router"] != FALLBACK and row["gain_vs_best_single"] <= self.margin_se * row["se_vs_best_single"]:
            log.info("router=auto: best candidate %s %s gains %.2f (se %.2f) over the best single model on "
                     "calibration CV: not more than %.1f se, so auto falls back to the best single model",
                     row["router"], params_text(row["params"]), row["gain_vs_best_single"], row["se_vs_best_single"],
                     self.margin_se)
            row = self.cv_table[0]
        self.choice = {"router": row["router"], "params": dict(row["params"]), "cv_score": row["cv_score"],
                       "gain_vs_best_single": row["gain_vs_best_single"]}
        log.info("router=auto chose %s %s (CV %.2f; best single %.2f)", row["router"], params_text(row["params"]),
                 row["cv_score"], base_score)
        self.winner = self._make(row["router"], row["params"]).fit(data, seed)
        self.pool = self.winner.pool

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        return self.winner.predict(q, texts)

    def describe(self) -> dict[str, Any]:
        return {"chosen": dict(self.choice), "rule": f"best CV score; falls back to best_single unless the gain "
                f"exceeds {self.margin_se} paired standard errors", "cv": {"folds": self.folds, "candidates": self.cv_table},
                "chosen_router": self.winner.describe() if self.winner is not None else None}

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super().get_state()
        w_meta, w_arrays = self.winner.get_state()
        meta.update(choice=self.choice, cv_table=self.cv_table, winner=w_meta)
        arrays.update({f"winner.{k}": v for k, v in w_arrays.items()})
        return meta, arrays

    def set_state(self, meta: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        super().set_state(meta, arrays)
        self.choice, self.cv_table = dict(meta["choice"]), list(meta["cv_table"])
        self.winner = self._make(self.choice["router"], self.choice["params"])
        self.winner.set_state(meta["winner"], {k[len("winner."):]: v for k, v in arrays.items() if k.startswith("winner.")})
        self.pool = self.winner.pool
