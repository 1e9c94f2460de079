"""Benchmark registry of the generation stage: the paper's 15 in-distribution and 5 OOD benchmarks,
as the reference implementation defines them (item sets, prompts, answer pipelines).

``get_benchmark(name)`` returns a :class:`BenchmarkSpec` (load / prompt / extract / grade).
Importing this package registers every benchmark.
"""

from avengers.generate.benchmarks.base import (
    BENCHMARKS,
    SUITES,
    BenchmarkSource,
    BenchmarkSpec,
    HubPart,
    Item,
    get_benchmark,
    read_rows,
    reference_paths,
    suite_names,
)

# importing the family modules registers their benchmarks
from avengers.generate.benchmarks import (  # noqa: E402,F401
    choice,
    code,
    emotion,
    finqa,
    maths,
    reasoning,
)

__all__ = [
    "BENCHMARKS",
    "SUITES",
    "BenchmarkSource",
    "BenchmarkSpec",
    "HubPart",
    "Item",
    "get_benchmark",
    "read_rows",
    "reference_paths",
    "suite_names",
]
