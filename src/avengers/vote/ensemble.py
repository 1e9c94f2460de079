"""Ensemble strategies: turn the routed models' samples for one query into one answer.

The router ranks the pool for a query (`ranked`, best first); each strategy decides which
samples to look at and how to combine them, returning a `Vote`: Direct, Self-Consistency,
Model-Switch (paper Table 6) and the pooled vote (`pooled_vote`, formerly `multi_model`: a
majority vote over the samples of the top models). The paper's "Aggregation" is NOT this: in the
reference it is an LLM aggregator that rewrites the experts' answers (Avengers
core/inference/aggregation_generator.py), a generation-stage step.

Rules shared by every strategy:
- `n_samples`: only the first n samples of each model count (None = all), deterministically.
- Normalisation: answers are compared after `normalize`; an answer that normalises to None
  (or was None) does not vote.
- Majority and ties: the answer with the most votes wins; among equally frequent answers
  the one that occurs FIRST in the pooled sample order wins (pooled order = models in
  `ranked` order, each model's samples in sample order). This is `Counter.most_common`'s
  order and reproduces the MoT release's own `prediction` on all 3 x 369 queries.
- Correctness of a voted answer is the grade of the considered samples carrying it. When
  they disagree (a sandbox or math-verify timeout on identical code; `5/1/2021` graded wrong
  and `05/01/2021` right while the `date` normaliser merges them) the answer still counts
  and is scored by the MAJORITY grade among those samples; a tie between grades goes to the
  grade that occurs first in pooled sample order. The Vote says so (`grade_conflict=True`)
  and the run counts such votes in metrics.json `notes`. (The reference grades the voted
  answer once; the generation stage grades each unique (item, answer) once, so conflicts
  only arise in outcomes graded elsewhere.)
- No answer at all among the considered samples (e.g. RouterDC, which only has pass rates):
  voting is impossible; the Vote carries the mean score of the considered samples with
  `expected=True` and `answer=None`.
- `Vote.models` lists every model whose samples were drawn for the decision (what a
  deployment pays for), in `ranked` order.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Optional, Protocol, Sequence

from avengers.errors import AvengersError, ConfigError
from avengers.registry import Registry

Normalizer = Callable[[Optional[str]], Optional[str]]


@dataclass(frozen=True)
class Sample:
    answer: str | None
    score: float


@dataclass(frozen=True)
class Vote:
    answer: str | None  # the voted (normalised) answer, None when no answers
    score: float  # correctness of the voted answer, or the expected score
    models: tuple[str, ...]  # models whose samples were used
    expected: bool  # True when voting was impossible and `score` is an expected score
    grade_conflict: bool = False  # samples with the voted answer had different grades (majority grade used)


class Strategy(Protocol):
    name: str

    def __call__(
        self, ranked: Sequence[str], samples: Mapping[str, Sequence[Sample]], normalize: Normalizer
    ) -> Vote: ...


STRATEGIES: Registry[type] = Registry("ensemble strategy")

# Keys of the `ensemble` config node that are not strategy arguments (they choose the normaliser).
CONFIG_KEYS = frozenset({"name", "code_answers", "code_benchmarks"})

_SCORE_TOL = 1e-9


def build_strategy(name: str, **kwargs: Any) -> Strategy:
    """`build_strategy(**cfg.ensemble)`: the normaliser keys of the config node are ignored,
    any other unknown keyword is a ConfigError naming what the strategy takes."""
    cls = STRATEGIES.get(name)
    args = {k: v for k, v in kwargs.items() if k not in CONFIG_KEYS}
    fields = sorted(f.name for f in dataclasses.fields(cls))
    unknown = sorted(set(args) - set(fields))
    if unknown:
        raise ConfigError(f"ensemble={name} does not take {unknown}; it takes {fields} (see conf/ensemble/{name}.yaml).")
    return cls(**args)


# --- validation helpers -----------------------------------------------------------------


def _check_count(name: str, value: Any, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        what = "a positive integer or null" if allow_none else "a positive integer"
        raise ConfigError(f"ensemble.{name} must be {what}; got {value!r}.")


def _samples_of(model: str, samples: Mapping[str, Sequence[Sample]], n_samples: int | None) -> list[Sample]:
    if model not in samples:
        raise AvengersError(f"The router ranked model {model!r}, but there are no samples for it (have {sorted(samples)}).")
    got = list(samples[model])
    if not got:
        raise AvengersError(f"Model {model!r} has no samples for this query.")
    return got if n_samples is None else got[:n_samples]


def _check_ranked(ranked: Sequence[str]) -> None:
    if not ranked:
        raise AvengersError("The router returned no model for this query (ranked is empty).")


# --- the vote itself --------------------------------------------------------------------


@dataclass
class _Tally:
    """Answers in order of first occurrence with their counts and the samples' scores."""

    counts: dict[str, int]
    scores: dict[str, list[float]]
    n: int  # all considered samples, answered or not

    @property
    def top(self) -> int:
        return max(self.counts.values(), default=0)

    def majority(self) -> str | None:
        top = self.top
        for answer, c in self.counts.items():  # dict order = first occurrence
            if c == top:
                return answer
        return None


def _tally(pool: Iterable[Sample], normalize: Normalizer) -> _Tally:
    counts: dict[str, int] = {}
    scores: dict[str, list[float]] = {}
    n = 0
    for s in pool:
        n += 1
        a = normalize(s.answer) if s.answer is not None else None
        if a is None:
            continue
        counts[a] = counts.get(a, 0) + 1
        scores.setdefault(a, []).append(float(s.score))
    return _Tally(counts, scores, n)


def answer_grade(scores: Sequence[float]) -> tuple[float, bool]:
    """The grade of a voted answer from the grades of the samples carrying it, and whether they
    disagreed. Agreeing grades (within 1e-9): that grade. Otherwise the most frequent grade;
    among equally frequent grades, the one that occurs first."""
    lo, hi = min(scores), max(scores)
    if hi - lo <= _SCORE_TOL:
        return float(scores[0]), False
    counts: dict[float, int] = {}
    for s in scores:  # dict order = first occurrence
        key = next((k for k in counts if abs(k - s) <= _SCORE_TOL), s)
        counts[key] = counts.get(key, 0) + 1
    top = max(counts.values())
    return float(next(k for k, c in counts.items() if c == top)), True


def _vote(models: Sequence[str], pool: Sequence[Sample], normalize: Normalizer) -> Vote:
    t = _tally(pool, normalize)
    answer = t.majority()
    if answer is None:
        mean = math.fsum(float(s.score) for s in pool) / len(pool)
        return Vote(answer=None, score=mean, models=tuple(models), expected=True)
    score, conflict = answer_grade(t.scores[answer])
    return Vote(answer=answer, score=score, models=tuple(models), expected=False, grade_conflict=conflict)


# --- strategies -------------------------------------------------------------------------


@STRATEGIES.register("direct")
@dataclass(frozen=True)
class Direct:
    """The first sample of the top model, as is: no vote, so `expected` is always False and
    the score is that sample's score even when it has no answer."""

    name: ClassVar[str] = "direct"
    n_samples: int | None = None

    def __post_init__(self) -> None:
        _check_count("n_samples", self.n_samples, allow_none=True)

    def __call__(self, ranked: Sequence[str], samples: Mapping[str, Sequence[Sample]], normalize: Normalizer) -> Vote:
        _check_ranked(ranked)
        first = _samples_of(ranked[0], samples, self.n_samples)[0]
        answer = normalize(first.answer) if first.answer is not None else None
        return Vote(answer=answer, score=float(first.score), models=(ranked[0],), expected=False)


@STRATEGIES.register("self_consistency")
@dataclass(frozen=True)
class SelfConsistency:
    """Majority vote over the top model's samples."""

    name: ClassVar[str] = "self_consistency"
    n_samples: int | None = None

    def __post_init__(self) -> None:
        _check_count("n_samples", self.n_samples, allow_none=True)

    def __call__(self, ranked: Sequence[str], samples: Mapping[str, Sequence[Sample]], normalize: Normalizer) -> Vote:
        _check_ranked(ranked)
        return _vote(ranked[:1], _samples_of(ranked[0], samples, self.n_samples), normalize)


@STRATEGIES.register("pooled_vote")
@dataclass(frozen=True)
class PooledVote:
    """Majority vote over the pooled samples of the top `n_models` models (fewer if fewer are
    ranked). Each model contributes its first `n_samples` samples; ties go to the answer that
    occurs first, i.e. the better-ranked model's. Registered as `pooled_vote` and, for configs
    written before the rename, `multi_model`. Not the paper's "Aggregation" (an LLM aggregator)."""

    name: ClassVar[str] = "pooled_vote"
    n_models: int = 2
    n_samples: int | None = None

    def __post_init__(self) -> None:
        _check_count("n_models", self.n_models, allow_none=False)
        _check_count("n_samples", self.n_samples, allow_none=True)

    def __call__(self, ranked: Sequence[str], samples: Mapping[str, Sequence[Sample]], normalize: Normalizer) -> Vote:
        _check_ranked(ranked)
        models = list(ranked[: self.n_models])
        pool = [s for m in models for s in _samples_of(m, samples, self.n_samples)]
        return _vote(models, pool, normalize)


# The old name: existing configs (ensemble=multi_model, strategy: multi_model) keep working.
STRATEGIES.register("multi_model")(PooledVote)
MultiModel = PooledVote


@STRATEGIES.register("model_switch")
@dataclass(frozen=True)
class ModelSwitch:
    """Consistency-based switching (MoT cascade, Yue et al. ICLR 2024): start with the top
    model's samples; the agreement rate is the majority answer's count over ALL considered
    samples (unanswered ones count as disagreeing). While it is below `threshold` and fewer
    than `max_models` models were consulted, draw the next ranked model's samples. The
    acceptance test is MoT's `count(majority) >= threshold * n_samples`.

    `pool=True` (default) votes over all consulted samples, as the reference does (Avengers
    core/inference/modelswitch_generator.py:103-108 pools both models' samples); `pool=False`
    is MoT's cascade: the last consulted model's samples alone decide. Default threshold 0.5:
    accept when at least half of the samples agree (MoT sweeps 0.4-1.0); the reference uses
    0.8 (modelswitch_generator.py:30; `ensemble.threshold=0.8`, docs/deviations.md).
    `max_models=None`: all ranked.
    """

    name: ClassVar[str] = "model_switch"
    threshold: float = 0.5
    max_models: int | None = 2
    pool: bool = True
    n_samples: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not 0 <= self.threshold <= 1:
            raise ConfigError(f"ensemble.threshold must be a number in [0, 1]; got {self.threshold!r}.")
        _check_count("max_models", self.max_models, allow_none=True)
        _check_count("n_samples", self.n_samples, allow_none=True)
        if not isinstance(self.pool, bool):
            raise ConfigError(f"ensemble.pool must be true or false; got {self.pool!r}.")

    def __call__(self, ranked: Sequence[str], samples: Mapping[str, Sequence[Sample]], normalize: Normalizer) -> Vote:
        _check_ranked(ranked)
        limit = len(ranked) if self.max_models is None else min(self.max_models, len(ranked))
        used: list[str] = []
        pooled: list[Sample] = []
        current: list[Sample] = []
        for m in ranked[:limit]:
            current = _samples_of(m, samples, self.n_samples)
            used.append(m)
            pooled.extend(current)
            considered = pooled if self.pool else current
            t = _tally(considered, normalize)
            if t.top >= self.threshold * t.n:
                break
        return _vote(used, pooled if self.pool else current, normalize)


@STRATEGIES.register("oracle")
@dataclass(frozen=True)
class Oracle:
    """NOT a deployable strategy: an upper bound. Score = the best score among the considered
    samples (1 iff any sample is correct, for 0/1 scores); answer = the normalised answer of
    the first sample reaching it. Considered: the first `n_samples` samples of the top
    `n_models` models (default 1: the top model's pass@n; null: every ranked model).
    `expected=True` when no considered sample has an answer (the score is then a best pass
    rate, not a correctness)."""

    name: ClassVar[str] = "oracle"
    is_oracle: ClassVar[bool] = True
    n_models: int | None = 1
    n_samples: int | None = None

    def __post_init__(self) -> None:
        _check_count("n_models", self.n_models, allow_none=True)
        _check_count("n_samples", self.n_samples, allow_none=True)

    def __call__(self, ranked: Sequence[str], samples: Mapping[str, Sequence[Sample]], normalize: Normalizer) -> Vote:
        _check_ranked(ranked)
        models = list(ranked if self.n_models is None else ranked[: self.n_models])
        pool = [s for m in models for s in _samples_of(m, samples, self.n_samples)]
        best = max(pool, key=lambda s: float(s.score))  # max() keeps the first of equal scores
        answers = [normalize(s.answer) if s.answer is not None else None for s in pool]
        answer = normalize(best.answer) if best.answer is not None else None
        return Vote(answer=answer, score=float(best.score), models=tuple(models), expected=all(a is None for a in answers))


# --- convenience: vote over a whole outcome table ---------------------------------------


def samples_by_query(df: Any) -> dict[tuple[str, str], dict[str, list[Sample]]]:
    """Canonical outcome rows -> {(benchmark, query_id): {model: [Sample in sample order]}}."""
    out: dict[tuple[str, str], dict[str, list[Sample]]] = {}
    cols = df[["benchmark", "query_id", "model", "sample", "answer", "score"]].sort_values(
        ["benchmark", "query_id", "model", "sample"], kind="mergesort"
    )
    for b, q, m, _s, a, sc in cols.itertuples(index=False, name=None):
        ans = None if a is None or (isinstance(a, float) and math.isnan(a)) else str(a)
        out.setdefault((b, q), {}).setdefault(m, []).append(Sample(answer=ans, score=float(sc)))
    return out


def vote_outcomes(
    df: Any,
    strategy: Strategy,
    ranked: Sequence[str] | Callable[[str, str], Sequence[str]],
    normalize_for: Callable[[str], Normalizer],
) -> Any:
    """Apply `strategy` to every query of a canonical outcome table.

    `ranked` is one fixed ranking or a function (benchmark, query_id) -> ranking;
    `normalize_for(benchmark)` gives the normaliser (e.g. `lambda b: normalizer_from_config(cfg, b)`).
    Returns a DataFrame: benchmark, query_id, answer, score, models (tuple), expected,
    grade_conflict (the voted answer's samples had different grades; scored by majority grade).
    Errors are re-raised naming the query.
    """
    import pandas as pd

    rank = ranked if callable(ranked) else (lambda b, q, _r=tuple(ranked): _r)
    cache: dict[str, Normalizer] = {}
    rows = []
    for (b, q), by_model in samples_by_query(df).items():
        norm = cache.get(b)
        if norm is None:
            norm = cache[b] = normalize_for(b)
        try:
            v = strategy(list(rank(b, q)), by_model, norm)
        except AvengersError as e:
            raise type(e)(f"benchmark={b!r} query_id={q!r}: {e}") from None
        rows.append((b, q, v.answer, v.score, v.models, v.expected, v.grade_conflict))
    return pd.DataFrame(rows, columns=["benchmark", "query_id", "answer", "score", "models", "expected", "grade_conflict"])
