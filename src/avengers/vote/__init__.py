"""Vote: repeated sampling and voting over the routed models (issue 3).

- `normalize`: answer normalisers (`NORMALIZERS`, `normalizer_for`, `normalizer_from_config`).
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
from avengers.answers.normalize import NORMALIZERS, normalizer_for, normalizer_from_config

__all__ = [
    "NORMALIZERS",
    "STRATEGIES",
    "Sample",
    "Strategy",
    "Vote",
    "build_strategy",
    "normalizer_for",
    "normalizer_from_config",
    "samples_by_query",
    "vote_outcomes",
]
