"""RouterDC release (NeurIPS 2024), folder datasets/split2_model7 at a pinned commit.

Each file is a JSON list of {"question", "scores": {model: float}}. Accuracy rules (from
RouterDC's evaluation scripts): multiple-choice files store the normalised probability of
the gold option when the model's top choice is right, else 0, so correctness is score > 0;
generation files store a pass rate over 10 samples, kept as is; MATH_prealgebra is 0/1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from avengers.errors import ConfigError, OutcomeError, did_you_mean
from avengers.files import sha256_file
from avengers.assets.download import data_cache_dir, pinned_file
from avengers.outcomes import SOURCES, RawOutcomes

COMMIT = "0e63989c5bf4363330b8a4616386e3f7f116d9f8"
URL = "https://raw.githubusercontent.com/shuhao02/RouterDC/{commit}/datasets/split2_model7/{file}"

# file stem -> (benchmark, scoring rule). "mc": correct iff score > 0; "rate": pass rate as is.
FILES: dict[str, tuple[str, str]] = {
    "mmlu_train": ("mmlu", "mc"),
    "mmlu_test": ("mmlu", "mc"),
    "cmmlu_train": ("cmmlu", "mc"),
    "cmmlu_test": ("cmmlu", "mc"),
    "arc_challenge_train": ("arc_challenge", "mc"),
    "arc_challenge_test": ("arc_challenge", "mc"),
    "ceval": ("ceval", "mc"),
    "gsm8k-train": ("gsm8k", "rate"),
    "gsm8k-test": ("gsm8k", "rate"),
    "humaneval_train": ("humaneval", "rate"),
    "humaneval_test": ("humaneval", "rate"),
    "mbpp": ("mbpp", "rate"),
    "MATH_prealgebra": ("math_prealgebra", "rate"),
}

# SHA-256 of the files at COMMIT: a download is checked against them before it is cached.
SHA256: dict[str, str] = {
    "MATH_prealgebra": "3cb750eaa93bd9989babca64b22e92ad51b0b5c30f6ee11dc539fb949c9cf5be",
    "arc_challenge_test": "7588fd22f8d7e9adb9ec6ff435a0d3612a56b3192dc3f9ace358c2468a10b1f3",
    "arc_challenge_train": "5ec50e9cd61caf0e3f116b48d00996a3d88ee52b3a0f04797cdfde8e21f8b610",
    "ceval": "b2f8105774193d869fa78c53894aa4118391eaed6bb0810f03f5fec76fd82323",
    "cmmlu_test": "10f175ac68f5163a9572d1d0e203415846264dceb9f56b444a654fff79e19843",
    "cmmlu_train": "6cc4cdba7f5bf9ca6cbb303bac87efded70d3807c17ecbe54424a74d9410b11e",
    "gsm8k-test": "237ccfe4a613a523e48ac92709ddc1a541674c332f9064899cce2cb1dafac3c9",
    "gsm8k-train": "63528cfd7b1860f03bae35e16d4964fe61d4abd3133386c92b22f433a4d4cd75",
    "humaneval_test": "3744fba4a7953206858f601e61b05c1551ca2fbcfac6b14b46fd19e8735f5f68",
    "humaneval_train": "c98f4160c135bfb2e6ee21bed16e23a8e5700148c3ea6f49092ce64c5a8d8de0",
    "mbpp": "17f2c23297234421e3e683ed5fc18d696cacb80a2d1e7a931ca12fcf52a2f9e7",
    "mmlu_test": "e560163c00f717a23da5781cf7b76a4050abed0cd75b2244df3fc23d46ea379b",
    "mmlu_train": "f07315933421304572fde4a2751c131757a7a3913ad5dad302390d4ee00e5d7d",
}


def _rule(stem: str, cfg: Mapping[str, Any]) -> tuple[str, str]:
    extra = cfg.get("extra_files") or {}
    if stem in extra:
        b = extra[stem]
        return str(b["benchmark"]), str(b.get("scoring", "mc"))
    if stem in FILES:
        return FILES[stem]
    # Any other file of the release: name the benchmark after the file, guess the rule.
    bench = re.sub(r"[-_](train|test)$", "", stem).lower()
    raise ConfigError(
        f"RouterDC file {stem!r} has no known scoring rule.{did_you_mean(stem, FILES)} "
        f"Declare it: data.extra_files={{{stem}: {{benchmark: {bench}, scoring: mc|rate}}}}."
    )


def cache_dir() -> Path:
    return data_cache_dir("routerdc", COMMIT)


def locate(stem: str, cfg: Mapping[str, Any]) -> Path:
    """Find `<stem>.json` under the data root, else download it into the user cache."""
    root = cfg.get("root")
    if root:
        p = Path(root).expanduser() / "routerdc" / f"{stem}.json"
        if p.exists():
            return p
    url = URL.format(commit=COMMIT, file=f"{stem}.json")
    # a file of the release outside SHA256 can be pinned in its extra_files entry
    extra = (cfg.get("extra_files") or {}).get(stem) or {}
    sha = SHA256.get(stem) or (str(extra["sha256"]) if extra.get("sha256") else None)
    hint = f"Place the file from commit {COMMIT} under <data root>/routerdc/ by hand, or set AVENGERS_DATA_DIR."
    if sha is None:
        hint += f" To download it, pin its hash: data.extra_files={{{stem}: {{..., sha256: <hex>}}}}."
    return pinned_file(
        url, cache_dir() / f"{stem}.json", sha, hint=hint, download=bool(cfg.get("download", True)),
        missing=(
            f"RouterDC file {stem}.json not found under data root {root!r} (expected {root}/routerdc/{stem}.json) "
            f"and downloads are off. Set AVENGERS_DATA_DIR / data.root, or data.download=true."
        ),
    )


def _read(path: Path, stem: str, bench: str, rule: str, split: str) -> pd.DataFrame:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise OutcomeError(f"{path}: not valid JSON ({e}).") from None
    if not isinstance(rows, list):
        raise OutcomeError(f"{path}: expected a JSON list of {{question, scores}} records.")
    recs = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or "question" not in r or not isinstance(r.get("scores"), dict):
            raise OutcomeError(f"{path}: record {i} is malformed; every record needs 'question' and a 'scores' dict.")
        qid = f"{split}-{i:05d}"
        for model, s in r["scores"].items():
            if s is None:
                continue  # a missing outcome: the table's missing policy decides
            s = float(s)
            recs.append((bench, qid, r["question"], model, 0, (1.0 if s > 0 else 0.0) if rule == "mc" else s, split))
    return pd.DataFrame.from_records(
        recs, columns=["benchmark", "query_id", "query", "model", "sample", "score", "split"]
    )


@SOURCES.register("routerdc")
def load_routerdc(cfg: Mapping[str, Any]) -> RawOutcomes:
    """Calibration, ID-test and OOD-test files are named in the config (defaults: RouterDC's protocol)."""
    roles = {"train": list(cfg.get("calibration") or []), "test": list(cfg.get("test") or []) + list(cfg.get("ood_test") or [])}
    if not roles["train"]:
        raise ConfigError("data.calibration lists no RouterDC file; name at least one, e.g. [mmlu_train].")
    frames, files = [], {}
    seen: dict[tuple[str, str], str] = {}
    for split, stems in roles.items():
        for stem in stems:
            bench, rule = _rule(stem, cfg)
            if (bench, split) in seen:
                raise ConfigError(f"RouterDC files {seen[(bench, split)]!r} and {stem!r} both give {split} data for {bench!r}.")
            seen[(bench, split)] = stem
            path = locate(stem, cfg)
            files[str(path)] = sha256_file(path)
            frames.append(_read(path, stem, bench, rule, split))
    return RawOutcomes(df=pd.concat(frames, ignore_index=True), files=files)
