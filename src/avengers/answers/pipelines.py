"""Answer pipelines: each benchmark's extract -> normalise -> compare, declared once.

An :class:`AnswerPipeline` says how a completion becomes an answer (`extract`), which answers
count as the same (`normalize`: the vote key) and whether an answer is right (`match`, given
the NORMALISED answer, so two answers that vote together always get the same grade).
Generation grades with it (`avengers.generate`), voting normalises with it (`vote.voter`),
importers that grade released answers use it too (`outcomes.mot`).

Pipelines are registered by name as lazy `module:attribute` targets (`PIPELINES`), and
benchmarks map to pipelines in ONE table (`BENCHMARK_PIPELINES`), which also knows the names
other sources use for the same benchmarks (the reference's `mmlupro`, `kandk`, `arcc`, ...).
`pipeline_for(benchmark)` looks a benchmark up (`mmlu_pro/law` falls back to `mmlu_pro`); a
benchmark with no pipeline gets `exact` (answers vote and match byte for byte), so nothing is
merged that its source might have graded apart.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from avengers.answers import compare, extract
from avengers.answers.normalize import NORMALIZERS, Normalizer
from avengers.errors import ConfigError, did_you_mean
from avengers.registry import Registry

log = logging.getLogger(__name__)

__all__ = [
    "BENCHMARK_PIPELINES",
    "DEFAULT_PIPELINE",
    "PIPELINES",
    "AnswerPipeline",
    "get_pipeline",
    "pipeline_for",
    "register_benchmark",
]

Extractor = Callable[[str, Mapping[str, Any]], Optional[str]]
Matcher = Callable[[str, Any, Mapping[str, Any]], bool]


@dataclass(frozen=True)
class AnswerPipeline:
    """extract (completion, item meta) -> answer; normalize answer -> vote key;
    match (vote key, gold, item meta) -> right?  `match=None`: graded elsewhere (code runs
    tests in the generation sandbox)."""

    name: str
    normalize: Normalizer = field(repr=False)
    extract: Extractor | None = field(default=None, repr=False)
    match: Matcher | None = field(default=None, repr=False)
    description: str = ""

    def answer(self, completion: str | None, meta: Mapping[str, Any] | None = None) -> str | None:
        """The extracted answer of a completion (None: no answer)."""
        if completion is None:
            return None
        if self.extract is None:
            raise ConfigError(f"answer pipeline {self.name!r} only compares extracted answers; it has no extractor.")
        got = self.extract(str(completion), meta or {})
        got = None if got is None else str(got).strip()
        return got or None

    def key(self, answer: str | None) -> str | None:
        """The vote key of an answer (None: it does not vote)."""
        return None if answer is None else self.normalize(answer)

    def score(self, answer: str | None, gold: Any, meta: Mapping[str, Any] | None = None) -> float:
        """1.0 when the answer is right, computed from its vote key only."""
        if self.match is None:
            raise ConfigError(f"answer pipeline {self.name!r} cannot grade by comparison (its benchmark runs tests).")
        k = self.key(answer)
        if k is None:
            return 0.0
        return 1.0 if self.match(k, gold, meta or {}) else 0.0


def _same_key(norm: Normalizer) -> Matcher:
    def match(key: str, gold: Any, meta: Mapping[str, Any]) -> bool:
        return gold is not None and key == norm(str(gold))

    return match


def _plain(name: str, description: str) -> AnswerPipeline:
    norm = NORMALIZERS.get(name)
    return AnswerPipeline(name, norm, extract=None, match=_same_key(norm), description=description)


# ------------------------------------------------------------- answers already extracted
EXACT = _plain("exact", "byte-for-byte answers (sources that graded their own answers)")
STRIP = _plain("strip", "answers without surrounding whitespace")
TEXT = _plain("text", "case-folded text, inner whitespace collapsed")
NUMBER = _plain("number", "canonical decimals")
DATE = _plain("date", "MM/DD/YYYY dates (BBH date understanding, MoT)")


# ------------------------------------------------------------- the reference's benchmarks
def _math_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    return extract.math_answer(text)


MATH = AnswerPipeline(
    "math", NORMALIZERS.get("strip"), extract=_math_extract,
    match=lambda k, gold, meta: compare.math_equal(k, gold),
    description="last \\boxed{} (or the 'Answer:' line after 'Final Answer'); MATH normalisation or symbolic equality",
)


def _choice_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    letters = meta.get("answer_letters")
    if not letters:
        n = len(meta.get("options") or ()) or 4
        letters = f"A-{chr(64 + n)}"
    return extract.answer_by_pattern(text, extract.choice_pattern(str(letters)))


CHOICE = AnswerPipeline(
    "choice", NORMALIZERS.get("choice"), extract=_choice_extract,
    match=lambda k, gold, meta: gold is not None and k == NORMALIZERS.get("choice")(str(gold)),
    description="the letter of the last 'Answer: X' line; right when it is the gold letter",
)


def _bbh_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    return extract.bbh_answer(text)


BBH = AnswerPipeline(
    "bbh", NORMALIZERS.get("strip"), extract=_bbh_extract,
    match=lambda k, gold, meta: compare.math_equal(k, gold),
    description="the 'Answer:' line (or last \\boxed{}); compared with the target like a math answer",
)


def _finqa_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    return extract.last_boxed(text) or None


FINQA = AnswerPipeline(
    "finqa", NORMALIZERS.get("strip"), extract=_finqa_extract,
    match=lambda k, gold, meta: compare.finqa_equal(k, gold),
    description="last \\boxed{}; math equality, else the first numbers rounded to integers agree",
)


def _kor_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    got = compare.kor_extract(text, str(meta.get("category", "")), meta.get("rule_id"), meta.get("idx"))
    return got  # 'NULL' is an answer in the reference (it votes, and is graded wrong)


KORBENCH = AnswerPipeline(
    "korbench", NORMALIZERS.get("strip"), extract=_kor_extract,
    match=lambda k, gold, meta: compare.kor_equal(
        k, str(gold), str(meta.get("category", "")), meta.get("rule_id"), meta.get("idx")
    ),
    description="KOR-Bench's official [[...]] extraction and checker (per category, rule and idx)",
)


def _kk_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    return extract.kk_canonical(text)


KNIGHTS_KNAVES = AnswerPipeline(
    "knights_knaves", NORMALIZERS.get("strip"), extract=_kk_extract,
    match=lambda k, gold, meta: compare.kk_judge(k, gold),
    description="the identities after CONCLUSION: as 'Name:role;...'; right when every gold identity is stated",
)


def _code_extract(text: str, meta: Mapping[str, Any]) -> str | None:
    return extract.sanitize_code(text)


CODE = AnswerPipeline(
    "code", NORMALIZERS.get("code"), extract=_code_extract, match=None,
    description="imports and definitions of the longest parsable span (first 100 lines); graded by running tests",
)


# ------------------------------------------------------------------------------ registry
PIPELINES: Registry[str] = Registry("answer pipeline")
for _name, _attr in [
    ("exact", "EXACT"), ("strip", "STRIP"), ("text", "TEXT"), ("number", "NUMBER"), ("date", "DATE"),
    ("math", "MATH"), ("choice", "CHOICE"), ("bbh", "BBH"), ("finqa", "FINQA"), ("korbench", "KORBENCH"),
    ("knights_knaves", "KNIGHTS_KNAVES"), ("code", "CODE"),
]:
    PIPELINES.register(_name)(f"{__name__}:{_attr}")

_RESOLVED: dict[str, AnswerPipeline] = {}


def get_pipeline(name: str) -> AnswerPipeline:
    """The pipeline registered as `name` (a did-you-mean ConfigError when unknown)."""
    name = str(name)
    if name not in _RESOLVED:
        target = PIPELINES.get(name)
        module, _, attr = target.partition(":")
        obj = getattr(importlib.import_module(module), attr)
        if not isinstance(obj, AnswerPipeline):
            raise ConfigError(f"answer pipeline {name!r} -> {target} is not an AnswerPipeline.")
        _RESOLVED[name] = obj
    return _RESOLVED[name]


DEFAULT_PIPELINE = "exact"

# benchmark -> pipeline. Names of the generation registry first, then the names other sources
# use for them: the reference's task ids (evaluate/factory.py, also LLMRouterBench's dataset ids),
# RouterBench / RouterDC's, and the MoT release's.
BENCHMARK_PIPELINES: dict[str, str] = {
    # generation registry (paper15 + ood5)
    "aime": "math", "math500": "math", "livemathbench": "math", "mathbench": "choice",
    "mbpp": "code", "humaneval": "code", "studenteval": "code",
    "korbench": "korbench", "knights_knaves": "knights_knaves", "bbh": "bbh",
    "arc_challenge": "choice", "mmlu_pro": "choice", "gpqa": "choice", "medqa": "choice",
    "winogrande": "choice", "brainteaser": "choice", "finqa": "finqa",
    "emorynlp": "choice", "meld": "choice", "dailydialog": "choice",
    # the reference's / LLMRouterBench's ids for the same benchmarks
    "aime_total": "math", "aime2024": "math", "aime2025": "math", "mmlupro": "choice",
    "kandk": "knights_knaves", "arcc": "choice",
    # RouterDC / RouterBench names
    "mmlu": "choice", "cmmlu": "choice", "ceval": "choice", "MATH_prealgebra": "math",
    # MoT release (BIG-Bench Hard date understanding)
    "bbh_date_understanding": "date",
}

_warned: set[str] = set()


def register_benchmark(benchmark: str, pipeline: str) -> None:
    """Give a (new) benchmark a pipeline; the pipeline name is checked."""
    PIPELINES.get(str(pipeline))
    old = BENCHMARK_PIPELINES.get(benchmark)
    if old is not None and old != pipeline:
        raise ConfigError(f"benchmark {benchmark!r} already uses answer pipeline {old!r}, not {pipeline!r}.")
    BENCHMARK_PIPELINES[str(benchmark)] = str(pipeline)


def pipeline_for(benchmark: str) -> AnswerPipeline:
    """The answer pipeline of a benchmark: its own entry, else the longest `k` with
    `benchmark` starting with `k + '/'`, else `exact` (logged once per benchmark)."""
    b = str(benchmark)
    name = BENCHMARK_PIPELINES.get(b)
    if name is None:
        parents = [k for k in BENCHMARK_PIPELINES if b.startswith(f"{k}/")]
        if parents:
            name = BENCHMARK_PIPELINES[max(parents, key=len)]
    if name is None:
        if b not in _warned:
            _warned.add(b)
            hint = did_you_mean(b, BENCHMARK_PIPELINES)
            log.info("benchmark %r has no answer pipeline; its answers vote and match byte for byte.%s", b, hint)
        name = DEFAULT_PIPELINE
    return get_pipeline(name)
