"""Grading step of the generation stage: completion -> (extracted answer, score in [0, 1]).

Within a run every distinct (benchmark, item, vote key) is graded once (:class:`GradeCache`):
two samples whose answers vote together (same normalised answer, e.g. identical code) get the
same grade even when the grader could differ between calls (a sandbox or math-verify timeout).
Items are graded in a fixed order (benchmarks, models, items, samples as configured), so which
sample is graded first, and hence every score, is the same on every rerun.
"""

from __future__ import annotations

from typing import Any

from avengers.errors import AvengersError

__all__ = ["GradeCache", "grade_sample"]


def _check(item: Any, score: float) -> float:
    if not 0.0 <= score <= 1.0:
        raise AvengersError(
            f"benchmark {item.benchmark!r}: grader returned {score} for query {item.query_id!r}; scores are in [0, 1]."
        )
    return score


class GradeCache:
    """Grades keyed by (benchmark, query_id, vote key of the answer) for one run."""

    def __init__(self) -> None:
        self._scores: dict[tuple[str, str, str], float] = {}
        self.graded = 0  # grader calls
        self.reused = 0  # answers whose grade came from an earlier identical one

    def grade(self, spec: Any, item: Any, completion: str) -> tuple[str | None, float]:
        """Extract the final answer of one completion with the benchmark's pipeline and grade it."""
        try:
            extracted = spec.extract(completion, item)
            key = spec.grade_key(extracted)
            cache_key = None if key is None else (str(item.benchmark), str(item.query_id), key)
            if cache_key is not None and cache_key in self._scores:
                self.reused += 1
                return extracted, self._scores[cache_key]
            score = _check(item, float(spec.grade(item, extracted, completion)))
        except AvengersError:
            raise
        except Exception as e:
            raise AvengersError(
                f"benchmark {item.benchmark!r}: grading query {item.query_id!r} failed "
                f"({type(e).__name__}: {e})."
            ) from e
        self.graded += 1
        if cache_key is not None:
            self._scores[cache_key] = score
        return extracted, score


def grade_sample(spec: Any, item: Any, completion: str) -> tuple[str | None, float]:
    """Grade one completion on its own (no cache)."""
    return GradeCache().grade(spec, item, completion)
