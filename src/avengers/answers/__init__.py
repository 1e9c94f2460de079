"""Answers: each benchmark's answer pipeline (extract -> normalise -> compare), declared once and
shared by grading (`generate`), voting (`vote`) and importers that grade released answers.

- `normalize`: the answer canonicalisers (`NORMALIZERS`: exact, strip, text, choice, number,
  date, compact, code, mathd) and `parse_number`.
- `extract`: completion -> answer, as the reference implementation extracts it.
- `compare`: answer vs gold, as the reference implementation grades it.
- `pipelines`: `AnswerPipeline`, the lazy `PIPELINES` registry, the one benchmark -> pipeline
  table and `pipeline_for(benchmark)`.
"""

from avengers.answers.normalize import NORMALIZERS, Normalizer
from avengers.answers.pipelines import (
    BENCHMARK_PIPELINES,
    PIPELINES,
    AnswerPipeline,
    get_pipeline,
    pipeline_for,
    register_benchmark,
)

__all__ = [
    "BENCHMARK_PIPELINES",
    "NORMALIZERS",
    "PIPELINES",
    "AnswerPipeline",
    "Normalizer",
    "get_pipeline",
    "pipeline_for",
    "register_benchmark",
]
