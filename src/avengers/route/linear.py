"""Linear router: one L2-regularised logistic-regression correctness model per LLM on the
query embedding; route to the model with the highest predicted probability. The "LLM
Router" / per-model classifier baseline of the routing literature (e.g. Shnitzer et al.,
2023; Hu et al., "RouterBench", 2024; the Avengers paper's "LLM Router" row).

Scores in (0, 1) (pass rates over samples) are soft labels: the logistic loss on the soft
target s. The objective is scikit-learn's LogisticRegression (C * summed loss + 1/2 ||w||^2,
intercept unpenalised), solved for all LLMs in one L-BFGS run (they are independent).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np

from avengers.route.base import CalibrationSet
from avengers.route.trained import sigmoid
from avengers.route.tuned import TunedRouter, positive_float, positive_int

log = logging.getLogger(__name__)


class LinearRouter(TunedRouter):
    hyperparameters = ("C", "max_iter")

    def __init__(self, C: float, max_iter: int, name: str = "linear", top_n: int = 1,
                 search: Mapping[str, Sequence[Any]] | None = None, cv_folds: int = 3, peek_test: bool = False,
                 extras: Mapping[str, Any] | None = None) -> None:
        super().__init__(name=name, top_n=top_n, params={"C": C, "max_iter": max_iter}, search=search,
                         cv_folds=cv_folds, peek_test=peek_test, extras=extras)

    def validate(self, params):
        positive_float("C", params["C"], self.name)
        positive_int("max_iter", params["max_iter"], self.name)

    def _fit_with(self, data: CalibrationSet, seed: int, params: Mapping[str, Any]) -> None:
        from scipy.optimize import minimize

        x = np.asarray(data.embeddings, dtype=np.float64)
        s = np.clip(np.asarray(data.scores, dtype=np.float64), 0.0, 1.0)
        (n, d), m = x.shape, s.shape[1]
        c = float(params["C"])

        # sklearn's objective, for all models at once (they are independent, so one L-BFGS over
        # the stacked weights solves each): C * sum of logistic losses + 1/2 ||w||^2, intercept free.
        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[: d * m].reshape(d, m), theta[d * m:]
            z = x @ w + b
            loss = np.logaddexp(0.0, z) - s * z  # -[s log sigmoid(z) + (1 - s) log(1 - sigmoid(z))]
            g = c * (sigmoid(z) - s)
            grad = np.concatenate([(x.T @ g + w).ravel(), g.sum(axis=0)])
            return float(c * loss.sum() + 0.5 * (w * w).sum()), grad

        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # these matrices are small: threads cost more than they save
            res = minimize(objective, np.zeros(d * m + m), jac=True, method="L-BFGS-B",
                           options={"maxiter": int(params["max_iter"]), "gtol": 1e-6})
        if not res.success and res.nit >= int(params["max_iter"]):
            log.warning("router=%s: logistic regression did not converge in max_iter=%d iterations; "
                        "raise router.max_iter", self.name, params["max_iter"])
        self.coef = res.x[: d * m].reshape(d, m).T.copy()
        self.intercept = res.x[d * m:].copy()

    def predict(self, q: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        z = np.asarray(q, dtype=np.float64) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def _arrays(self):
        return {"coef": self.coef, "intercept": self.intercept}

    def _set_arrays(self, arrays):
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]
