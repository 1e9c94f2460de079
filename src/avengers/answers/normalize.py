"""Answer normalisers: map a raw extracted answer to the form that voting counts.

A normaliser is a function `str | None -> str | None`; `None` means "no answer" (it does
not vote). Two raw answers vote together iff they normalise to the same string. Register
a new one with `@NORMALIZERS.register("name")`. Which normaliser a benchmark uses is not
chosen here but by its answer pipeline (`avengers.answers.pipelines`), so grading and
voting can never disagree.

This is the project's one answer canonicaliser: the value parsers the graders use
(`parse_number`, `compact`, `mathd`) live here too.

Built in:
- `exact`: identity, byte for byte (not even whitespace is stripped). This is what the MoT
  release's own vote and accuracy use: stripping changes 7 of the 369 llama-2-13b majority
  votes (`"04/30/2020\\n"` is its own answer there).
- `strip`: surrounding whitespace removed, nothing else.
- `text`: strip, casefold, collapse inner whitespace, drop trailing periods.
- `choice`: a multiple-choice letter, upper case: `(B)`, `B)`, `b`, `B.`, `the answer is B`,
  `Answer: (c)`, `B) Paris`; text that names no letter (or several different ones) falls
  back to `text`.
- `number`: a canonical decimal: `1,234.50` -> `1234.5`, `$3` -> `3`, `3.0` -> `3`,
  `50%` -> `50`, `3/4` -> `0.75`, `1/3` -> `1/3`; in running text the last number counts;
  text without a number falls back to `text`.
- `date`: `MM/DD/YYYY`, zero padded: `5/1/2021` -> `05/01/2021`, `April 30, 2020` ->
  `04/30/2020`, `2021-05-01` -> `05/01/2021`, `06/12/2019 (1 week ago)` -> `06/12/2019`.
  The calendar is not checked (`02/29/2017` stays what it is, a wrong answer); two-digit
  years (`5/18/19`) and strings naming several different dates are left as stripped text,
  because guessing a century or a date would make up an answer.

- `compact`: `text` without any whitespace, LaTeX spacing (`\\,`, `\\left`), `\\text{}`
  wrappers, `$` signs or punctuation at the ends: `$\\text{Paris}$.` -> `paris`.
- `code`: source code with trailing whitespace and blank lines at both ends removed (inner
  lines untouched: indentation and case matter in code).
- `mathd`: the MATH dataset's answer normalisation (Hendrycks et al.): `\\dfrac12` ->
  `\\frac{1}{2}`, `0.5` -> `\\frac{1}{2}`, `x = 3` -> `3`, units and `\\%` dropped.

Every normaliser except `exact` maps the empty string to None.
"""

from __future__ import annotations

import re
import string
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Callable, Optional

from avengers.registry import Registry

Normalizer = Callable[[Optional[str]], Optional[str]]

NORMALIZERS: Registry[Normalizer] = Registry("answer normalizer")


@NORMALIZERS.register("exact")
def exact(answer: str | None) -> str | None:
    return answer


@NORMALIZERS.register("strip")
def strip(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = answer.strip()
    return s or None


_WS = re.compile(r"\s+")


@NORMALIZERS.register("text")
def text(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = _WS.sub(" ", answer.strip().casefold())
    s = s.rstrip(".").rstrip()
    return s or None


# --- multiple choice ------------------------------------------------------------------

_CHOICE_ALONE = re.compile(r"\(?\s*([A-Za-z])\s*\)?\s*[.:]?")
_CHOICE_STATED = re.compile(
    r"(?i:answer)\s*(?:(?i:is)|:)\s*:?\s*(?:\(\s*([A-Za-z])\s*\)|([A-Z])(?![A-Za-z0-9]))"
)
_CHOICE_LEADING = re.compile(r"\(?([A-Z])[).:]\s")
_CHOICE_PAREN = re.compile(r"\(([A-Z])\)")


@NORMALIZERS.register("choice")
def choice(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = answer.strip()
    if not s:
        return None
    m = _CHOICE_ALONE.fullmatch(s)
    if m:
        return m.group(1).upper()
    stated = list(_CHOICE_STATED.finditer(s))
    if stated:
        last = stated[-1]
        return (last.group(1) or last.group(2)).upper()
    letters = {p.group(1) for p in _CHOICE_PAREN.finditer(s)}
    m = _CHOICE_LEADING.match(s)
    if m and letters <= {m.group(1)}:
        return m.group(1)
    if not m and len(letters) == 1:
        return letters.pop()
    return text(s)  # no letter, or several different ones: not guessed


# --- numbers --------------------------------------------------------------------------

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUM_ALONE = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_FRAC_ALONE = re.compile(r"([-+]?\d+)\s*/\s*(\d+)")
_NUM_IN_TEXT = re.compile(r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)")


def _decimal_str(d: Decimal) -> str:
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


def _fraction_str(f: Fraction) -> str:
    den = f.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:  # terminating decimal
        return _decimal_str(Decimal(f.numerator) / Decimal(f.denominator))
    return f"{f.numerator}/{f.denominator}"


@NORMALIZERS.register("number")
def number(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = answer.strip()
    if not s:
        return None
    c = _THOUSANDS.sub("", s)
    c = re.sub(r"[$€£¥]", "", c).strip()
    c = c.rstrip(".").rstrip("%").strip()
    try:
        if _NUM_ALONE.fullmatch(c):
            return _decimal_str(Decimal(c))
        m = _FRAC_ALONE.fullmatch(c)
        if m and int(m.group(2)) != 0:
            return _fraction_str(Fraction(int(m.group(1)), int(m.group(2))))
        nums = _NUM_IN_TEXT.findall(_THOUSANDS.sub("", s))
        if nums:
            return _decimal_str(Decimal(nums[-1]))
    except InvalidOperation:  # pragma: no cover - the regexes only admit valid decimals
        pass
    return text(s)


# --- dates ----------------------------------------------------------------------------

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_D = r"(?<![\d/.-])"  # no digit or separator right before a token
_E = r"(?![\d/])"  # no digit or slash right after a token
_DATE_PATTERNS = (
    # MM/DD/YYYY, M/D/YYYY, MM-DD-YYYY
    ("mdy", re.compile(_D + r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})" + _E)),
    # YYYY-MM-DD, YYYY/MM/DD
    ("ymd", re.compile(_D + r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})" + _E)),
    # April 30, 2020 / Apr. 30th 2020
    ("Mdy", re.compile(r"(?i)\b(" + _MONTH_RE + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})" + _E)),
    # 30 April 2020 / 30th of April, 2020
    ("dMy", re.compile(r"(?i)" + _D + r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(" + _MONTH_RE + r")\.?,?\s+(\d{4})" + _E)),
)


def _dates_in(s: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for kind, pat in _DATE_PATTERNS:
        for m in pat.finditer(s):
            g = m.groups()
            if kind == "mdy":
                mo, d, y = int(g[0]), int(g[1]), g[2]
            elif kind == "ymd":
                y, mo, d = g[0], int(g[1]), int(g[2])
            elif kind == "Mdy":
                mo, d, y = _MONTHS[g[0].lower()], int(g[1]), g[2]
            else:
                d, mo, y = int(g[0]), _MONTHS[g[1].lower()], g[2]
            if 1 <= mo <= 12 and 1 <= d <= 31:
                found.append((m.start(), f"{mo:02d}/{d:02d}/{y}"))
    return [d for _, d in sorted(found)]


@NORMALIZERS.register("date")
def date(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = answer.strip()
    if not s:
        return None
    dates = set(_dates_in(s))
    if len(dates) == 1:
        return dates.pop()
    return s


# --- compact text (graders compare short answers with it) -----------------------------

_LATEX_NOISE = re.compile(r"\\[,;:! ]|\\left|\\right|\s+|\$")
_TEXT_WRAP = re.compile(r"\\text\{([^}]*)\}")


@NORMALIZERS.register("compact")
def compact(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = _TEXT_WRAP.sub(r"\1", answer.strip().casefold())
    s = _LATEX_NOISE.sub("", s).rstrip(".").strip(string.punctuation)
    return s or None


# --- code -----------------------------------------------------------------------------


@NORMALIZERS.register("code")
def code(answer: str | None) -> str | None:
    if answer is None:
        return None
    lines = [ln.rstrip() for ln in answer.replace("\r\n", "\n").split("\n")]
    s = "\n".join(lines).strip("\n")
    return s if s.strip() else None


# --- MATH answer normalisation (Hendrycks et al.) --------------------------------------
# The reference grades math, BBH and FinQA answers with this rule first (its
# evaluate/deepscaler_rm.py `mathd_normalize_answer`); rewritten here from its description.


def _fix_fracs(s: str) -> str:
    """\\frac12 -> \\frac{1}{2}, \\frac1{72} -> \\frac{1}{72}; anything else unchanged."""
    head, *parts = s.split("\\frac")
    out = head
    for part in parts:
        out += "\\frac"
        if part.startswith("{"):
            out += part
            continue
        if len(part) < 2:
            return s
        a, b, rest = part[0], part[1], part[2:]
        out += "{" + a + "}" + (b + rest if b == "{" else "{" + b + "}" + rest)
    return out


def _fix_sqrt(s: str) -> str:
    head, *parts = s.split("\\sqrt")
    return head + "".join("\\sqrt" + (p if p.startswith("{") else "{" + p[:1] + "}" + p[1:]) for p in parts)


def _a_slash_b(s: str) -> str:
    m = re.fullmatch(r"(-?\d+)/(-?\d+)", s)
    if m and s == f"{int(m.group(1))}/{int(m.group(2))}":
        return "\\frac{" + m.group(1) + "}{" + m.group(2) + "}"
    return s


def _mathd_strip(s: str) -> str:
    for old, new in (("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
                     ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", "")):
        s = s.replace(old, new)
    if "\\text{ " in s:  # a unit written on the right, e.g. "5 \text{ cm}"
        parts = s.split("\\text{ ")
        if len(parts) != 2:
            raise ValueError("several units")
        s = parts[0]
    s = s.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:  # "x = 3" -> "3"
        s = sides[1]
    s = _fix_fracs(_fix_sqrt(s).replace(" ", ""))
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _a_slash_b(s)


@NORMALIZERS.register("mathd")
def mathd(answer: str | None) -> str | None:
    if answer is None:
        return None
    s = answer.strip()
    m = re.fullmatch(r"\\text\{(.+?)\}", s)
    if m:
        s = m.group(1).strip()
    try:
        s = _mathd_strip(s)
    except (ValueError, IndexError):
        s = answer.strip()  # the rule gives up on odd strings and keeps them as they are
    return s or None


# --- number values (graders) ------------------------------------------------------------

_WORDS = re.compile(r"(?i)\s*(million|billion|thousand|percent|dollars?|usd)$")


def parse_number(s: Any) -> float | None:
    """The value of '1,234.5', '12.5%' (0.125), '$3', '-0.25', '3/4', '\\frac{3}{4}'; None when
    the text is not one number. Unlike the `number` normaliser (a voting key, '50%' -> '50'),
    this is a value: percentages are divided by 100."""
    if s is None or isinstance(s, bool):
        return None
    if isinstance(s, (int, float)):
        return float(s)
    t = _TEXT_WRAP.sub(r"\1", str(s).strip())
    t = t.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("\\!", "")
    t = t.replace("−", "-").strip().rstrip(".").strip()
    m = re.fullmatch(r"\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}", t)
    if m:
        try:
            return float(m.group(1)) / float(m.group(2))
        except (ValueError, ZeroDivisionError):
            return None
    pct = t.endswith("%")
    t = _WORDS.sub("", t.rstrip("%").strip()).strip()
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
