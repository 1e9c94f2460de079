"""Shared prompt, extraction and grading helpers for the benchmark modules."""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from avengers.errors import AvengersError

LETTERS = string.ascii_uppercase

# ------------------------------------------------------------------ prompt suffixes
BOXED_INSTRUCTION = (
    "Solve the following problem step by step. The last line of your response must contain "
    "only your final answer inside a \\boxed{} command, i.e. \\boxed{$ANSWER}."
)


def choice_instruction(letters: str) -> str:
    letters_txt = ", ".join(letters[:-1]) + (f" or {letters[-1]}" if len(letters) > 1 else letters)
    return (
        "Answer the following multiple choice question. Think step by step, then give your "
        "answer. The last line of your response must be of the form 'Answer: $LETTER' "
        f"(without quotes) where LETTER is one of {letters_txt}."
    )


ANSWER_LINE_INSTRUCTION = (
    "Think step by step. The last line of your response must be of the form 'Answer: $ANSWER' "
    "(without quotes) where $ANSWER is your final answer."
)


def format_options(options: Sequence[str], letters: str = LETTERS) -> str:
    return "\n".join(f"{letters[i]}. {str(o).strip()}" for i, o in enumerate(options))


def mc_prompt(question: str, options: Sequence[str]) -> str:
    letters = LETTERS[: len(options)]
    return f"{choice_instruction(letters)}\n\n{question.strip()}\n\n{format_options(options)}"


# ------------------------------------------------------------------------ row access
def pick(row: Mapping[str, Any], *names: str, default: Any = KeyError) -> Any:
    """The first of ``names`` present (and not None) in ``row``."""
    for n in names:
        if n in row and row[n] is not None:
            return row[n]
    if default is KeyError:
        raise KeyError(f"none of the columns {list(names)} is present")
    return default


def as_list(v: Any) -> list:
    """Lists stored as lists, numpy arrays, JSON strings or python-literal strings (csv)."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                out = json.loads(s)
                if isinstance(out, list):
                    return out
            except json.JSONDecodeError:
                import ast

                try:
                    out = ast.literal_eval(s)
                    if isinstance(out, (list, tuple)):
                        return list(out)
                except (ValueError, SyntaxError):
                    pass
        return [v]
    tolist = getattr(v, "tolist", None)
    if tolist is not None:
        return list(tolist())
    return [v]


def as_dict(v: Any) -> dict:
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, str) and v.strip().startswith("{"):
        try:
            return dict(json.loads(v))
        except json.JSONDecodeError:
            import ast

            return dict(ast.literal_eval(v))
    raise ValueError(f"expected a mapping, got {type(v).__name__}")


# ------------------------------------------------------------------------ extraction
_ANSWER_RE = re.compile(
    r"(?i)(?:final\s+answer|answer)\s*(?:is)?\s*[:：]\s*(.+)"
)


def strip_markup(s: str) -> str:
    s = s.strip()
    s = re.sub(r"^\s*[*_`#>]+|[*_`]+\s*$", "", s)
    s = s.strip().strip("*").strip()
    s = re.sub(r"^\$+|\$+$", "", s).strip()
    return s


def answer_line(text: str) -> str | None:
    """Content after the last 'Answer:' (or 'Final Answer:') in the text."""
    hits = _ANSWER_RE.findall(text.replace("**", ""))
    if not hits:
        return None
    out = strip_markup(hits[-1])
    return out or None


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    i = text.find("{", idx)
    if i < 0:
        # "\boxed 5"
        m = re.match(r"\\(?:boxed|fbox)\s+([^\s$]+)", text[idx:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def extract_math(text: str) -> str | None:
    """The final answer of a math solution: last \\boxed{}, else the 'Answer:' line."""
    boxed = last_boxed(text)
    if boxed:
        return boxed
    line = answer_line(text)
    if line:
        inner = last_boxed(line)
        return inner or line.rstrip(".")
    return None


def extract_choice(text: str, n_options: int) -> str | None:
    """A choice letter: from 'Answer: X', else \\boxed{X}, else 'answer is (X)'."""
    letters = LETTERS[:n_options]
    cls = f"[{letters}]" if n_options > 1 else "A"
    pat_exact = re.compile(rf"^\(?({cls})\)?(?:[.):\s]|$)")
    candidates: list[str] = []
    line = answer_line(text)
    if line is not None:
        candidates.append(line)
    boxed = last_boxed(text)
    if boxed is not None:
        candidates.append(re.sub(r"\\text\{([^}]*)\}", r"\1", boxed))
    for c in candidates:
        c = strip_markup(c)
        m = pat_exact.match(c)
        if m:
            return m.group(1)
    m = None
    for m in re.finditer(rf"(?i)answer\s+is\s*:?\s*\(?({cls})\)?(?![A-Za-z])", text):
        pass
    if m:
        return m.group(1).upper()
    return None


# ------------------------------------------------------------------------- numbers
_NUM_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def parse_number(s: Any) -> float | None:
    """A float from '1,234.5', '12.5%', '$3', '-0.25', '3/4'; None when not a single number."""
    if s is None:
        return None
    if isinstance(s, (int, float)) and not isinstance(s, bool):
        return float(s)
    t = str(s).strip()
    t = re.sub(r"\\text\{([^}]*)\}", r"\1", t)
    t = t.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("\\!", "")
    t = t.replace("−", "-").strip().rstrip(".").strip()
    m = re.fullmatch(r"\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}", t)
    if m:
        try:
            return float(m.group(1)) / float(m.group(2))
        except ZeroDivisionError:
            return None
    pct = t.endswith("%")
    t = t.rstrip("%").strip()
    t = re.sub(r"(?i)\s*(million|billion|thousand|percent|dollars?|usd)$", "", t).strip()
    if re.fullmatch(r"-?\d+\s*/\s*\d+", t):
        try:
            return float(Fraction(t.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            return None
    if not re.fullmatch(r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", t):
        return None
    try:
        v = float(t.replace(",", ""))
    except ValueError:
        return None
    return v / 100.0 if pct else v


def first_number(s: str) -> float | None:
    m = _NUM_RE.search(s or "")
    return parse_number(m.group(0)) if m else None


# ---------------------------------------------------------------------- math grading
def _math_verify():
    try:
        import math_verify  # lazy: heavy import (sympy, antlr)
    except ImportError:  # pragma: no cover - declared dependency
        raise AvengersError(
            "Grading math answers needs the `math-verify` package: pip install 'math-verify[antlr4_13_2]'"
        ) from None
    return math_verify


def _wrap(expr: str) -> str:
    expr = expr.strip()
    if "\\boxed" in expr or expr.startswith("$"):
        return expr
    return "\\boxed{" + expr + "}"


def math_equal(pred: str | None, gold: Any) -> bool:
    """Mathematical equivalence of two final answers, decided by math-verify."""
    if pred is None or gold is None or str(pred).strip() == "":
        return False
    p, g = str(pred).strip(), str(gold).strip()
    if _norm_text(p) == _norm_text(g):
        return True
    mv = _math_verify()
    main = threading.current_thread() is threading.main_thread()
    t = 5 if main else None
    try:
        gp = mv.parse(_wrap(g), parsing_timeout=t)
        pp = mv.parse(_wrap(p), parsing_timeout=t)
        if not gp or not pp:
            return False
        return bool(mv.verify(gp, pp, timeout_seconds=t))
    except Exception:
        return False


def _norm_text(s: str) -> str:
    s = s.strip().lower()
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    s = re.sub(r"\\[,;:! ]|\\left|\\right|\s+|\$", "", s)
    return s.rstrip(".")


def norm_text(s: Any) -> str:
    """Case-folded text without spaces, punctuation at the ends or LaTeX spacing."""
    return _norm_text(str(s)).strip(string.punctuation)


def letter_of(value: Any, n_options: int) -> str:
    """Gold letter from a letter ('B', '(B)'), a 0-based int index or a numeric string."""
    if isinstance(value, bool):
        raise ValueError("boolean answer")
    if isinstance(value, int):
        if not 0 <= value < n_options:
            raise ValueError(f"answer index {value} out of range")
        return LETTERS[value]
    s = str(value).strip().strip("()").strip()
    if len(s) == 1 and s.upper() in LETTERS[:n_options]:
        return s.upper()
    raise ValueError(f"cannot read answer {value!r} as one of {LETTERS[:n_options]}")
