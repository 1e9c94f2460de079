"""Grading step of the collect stage: completion -> (extracted answer, score in [0, 1])."""

from __future__ import annotations

from typing import Any

from avengers.errors import AvengersError

__all__ = ["grade_sample"]


def grade_sample(spec: Any, item: Any, completion: str) -> tuple[str | None, float]:
    """Extract the final answer of one completion with the benchmark's extractor and grade it."""
    try:
        extracted = spec.extract(completion, item)
        score = float(spec.grade(item, extracted, completion))
    except AvengersError:
        raise
    except Exception as e:
        raise AvengersError(
            f"benchmark {item.benchmark!r}: grading query {item.query_id!r} failed "
            f"({type(e).__name__}: {e})."
        ) from e
    if not 0.0 <= score <= 1.0:
        raise AvengersError(
            f"benchmark {item.benchmark!r}: grader returned {score} for query {item.query_id!r}; scores are in [0, 1]."
        )
    return extracted, score
