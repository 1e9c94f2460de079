"""Vote: repeated sampling and voting over the routed models (issue 3).

- answers are normalised by each benchmark's pipeline (`avengers.answers.pipeline_for`).
- `ensemble`: strategies (`STRATEGIES`, `build_strategy`, `Sample`, `Vote`, `Strategy`,
  `vote_outcomes`).
"""

from avengers.vote.ensemble import (
    STRATEGIES,
    Sample,
    Strategy,
    Vote,
    build_strategy,
    samples_by_query,
    vote_outcomes,
)
from avengers.answers import NORMALIZERS, pipeline_for

__all__ = [
    "NORMALIZERS",
    "STRATEGIES",
    "Sample",
    "Strategy",
    "Vote",
    "build_strategy",
    "pipeline_for",
    "samples_by_query",
    "vote_outcomes",
]
