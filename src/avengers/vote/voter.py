"""Apply the configured ensemble strategy to every query of a split: the routed models'
samples for that query, normalised per benchmark, voted into one answer.

Answers are normalised by their benchmark's answer pipeline (`avengers.answers.pipeline_for`),
the same one that graded them; a benchmark without a pipeline votes byte for byte."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from avengers.answers import pipeline_for
from avengers.errors import ConfigError
from avengers.split.views import QueryView
from avengers.vote.ensemble import CONFIG_KEYS, Direct, Sample, Vote, build_strategy

# ensemble.code_answers: how code benchmarks (ensemble.code_benchmarks) are answered. `vote`
# (harness): like every other benchmark, voting over the code text. `first_sample`
# (reference): the first sample of the top-ranked model, whatever the strategy, while the
# strategy's models are still drawn and paid for (Avengers
# evaluate/HumanEval/humaneval.py:91-92 "TODO: code majority voting", MBPP/mbpp.py:92,
# LiveCodeBench/livecodebench.py:134, StudentEval/studenteval.py:91).
CODE_ANSWERS = ("vote", "first_sample")


def strategy_name(ens: Mapping[str, Any]) -> str:
    """The registered strategy of an ensemble config; `strategy` lets one strategy appear under
    several config names (e.g. multi_model_top3)."""
    return ens.get("strategy") or ens.get("name", "direct")


class Voter:
    """Applies the configured ensemble strategy to one query and a model ranking."""

    def __init__(self, view: QueryView, ens: Mapping[str, Any]) -> None:
        self.view = view
        self.name = ens.get("name", "direct")
        kwargs = {k: v for k, v in ens.items() if k not in CONFIG_KEYS | {"strategy"}}
        self.strategy = build_strategy(strategy_name(ens), **kwargs)
        self.n_samples = ens.get("n_samples")
        code_answers = ens.get("code_answers", "vote")
        if code_answers not in CODE_ANSWERS:
            raise ConfigError(f"ensemble.code_answers={code_answers!r}: use one of {list(CODE_ANSWERS)}.")
        # An oracle is an upper bound, not a deployable answer: it always looks at every sample.
        first_sample = code_answers == "first_sample" and not getattr(self.strategy, "is_oracle", False)
        self.code_benchmarks = frozenset(ens.get("code_benchmarks") or ()) if first_sample else frozenset()
        self.first_sample = Direct(n_samples=self.n_samples)
        rows = view.rows.sort_values(["qi", "mi", "sample"], kind="mergesort")
        self.samples: list[dict[str, list]] = [dict() for _ in range(view.n)]
        self.cost_used = np.zeros((view.n, len(view.models)))
        for (qi, mi), g in rows.groupby(["qi", "mi"], sort=False):
            take = g if self.n_samples is None else g.head(int(self.n_samples))
            self.samples[qi][view.models[mi]] = [Sample(a, s) for a, s in zip(take["answer"], take["score"])]
            self.cost_used[qi, mi] = take["cost"].sum(min_count=1)
        self.norm = {b: pipeline_for(b).normalize for b in view.queries["benchmark"].unique()}
        self.n_expected = 0
        self.n_votes = 0
        self.n_grade_conflicts = 0

    def __call__(self, i: int, ranked: Sequence[str]):
        bench = self.view.queries.at[i, "benchmark"]
        vote = self.strategy(ranked, self.samples[i], self.norm[bench])
        if bench in self.code_benchmarks:
            # The reference still draws what its strategy draws (and pays for it), then keeps
            # the top model's first sample as the answer.
            first = self.first_sample(ranked, self.samples[i], self.norm[bench])
            vote = Vote(answer=first.answer, score=first.score, models=vote.models, expected=False)
        self.n_votes += 1
        self.n_expected += bool(vote.expected)
        self.n_grade_conflicts += bool(vote.grade_conflict)
        mi = [self.view.models.index(m) for m in vote.models]
        cost = float(np.sum(self.cost_used[i, mi])) if mi else float("nan")
        return vote, cost
