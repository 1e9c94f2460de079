"""Is an extracted answer right? Comparisons with the gold answer, per answer kind.

Each rule follows the reference implementation's grader (ZhangYiqun018/Avengers `evaluate/*`),
rewritten from its description; where the harness cannot do exactly the same the docstring
says what differs (docs/deviations_generation.md lists it too).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from avengers.answers.extract import KK_FINISH, kor_brackets, kor_inner
from avengers.answers.normalize import compact, mathd
from avengers.errors import AvengersError

__all__ = ["finqa_equal", "kk_judge", "kor_equal", "math_equal"]


# ------------------------------------------------------------------------------------ math
def _math_verify():
    try:
        import math_verify  # lazy: heavy import (sympy, antlr)
    except ImportError:  # pragma: no cover - declared dependency
        raise AvengersError(
            "Grading math answers needs the `math-verify` package: pip install 'math-verify[antlr4_13_2]'"
        ) from None
    return math_verify


def _sympy_key(expr: str) -> str:
    """The text part of the reference's `grade_answer_sympy` normalisation (case, spaces,
    `$`, `%`, units and braces do not matter); its LaTeX-to-text step is not reproduced."""
    m = re.fullmatch(r"\\text\{(.+?)\}", expr)
    if m:
        expr = m.group(1)
    expr = expr.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("%", "")
    expr = expr.replace(" or ", " , ").replace(" and ", " , ")
    for word, power in (("million", "*10^6"), ("billion", "*10^9"), ("trillion", "*10^12")):
        expr = expr.replace(word, power)
    units = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week",
             "month", "year", "foot", "feet", "inch", "yard")
    for unit in units:
        expr = re.sub(rf"{unit}(es)?(s)? *(\^[0-9]+)?", "", expr)
    expr = re.sub(r"\^ *\\circ", "", expr)
    if len(expr) > 1 and expr[0] == "{" and expr[-1] == "}":
        expr = expr[1:-1]
    expr = re.sub(r",\\! *", "", expr)
    try:
        if float(expr) == round(float(expr)):
            expr = str(int(round(float(expr))))
    except (ValueError, OverflowError):
        pass
    expr = re.sub(r"- *", "-", expr).replace(" ", "").replace("{", "").replace("}", "").lower()
    return re.sub(r"(\d),(\d\d\d)(?!\d)", r"\1\2", expr)


def _few_unknowns(expr: str) -> bool:
    """The reference only asks sympy about expressions with at most two unknown letters."""
    letters = {c for c in expr.replace("sqrt", "").replace("frac", "") if c.isalpha()}
    return len(letters) <= 2 and "^{" not in expr and "^(" not in expr


def math_equal(pred: str | None, gold: Any) -> bool:
    """Reference `grade_answer_mathd(pred, gold) or grade_answer_sympy(pred, gold)`: equal after
    the MATH normalisation, or after the sympy rule's text normalisation, or symbolically
    equal. The symbolic step is math-verify here (the reference calls sympy.simplify on
    `gold - pred`), under the same guard (at most two unknown letters)."""
    if pred is None or gold is None:
        return False
    p, g = str(pred).strip(), str(gold).strip()
    if not p or not g:
        return False
    if mathd(p) is not None and mathd(p) == mathd(g):
        return True
    if _sympy_key(p) and _sympy_key(p) == _sympy_key(g):
        return True
    if not (_few_unknowns(_sympy_key(p)) and _few_unknowns(_sympy_key(g))):
        return False
    mv = _math_verify()
    # math-verify's own timeout uses signals, which only work in the main thread
    t = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        gp = mv.parse("\\boxed{" + g + "}", parsing_timeout=t)
        pp = mv.parse("\\boxed{" + p + "}", parsing_timeout=t)
        return bool(gp and pp and mv.verify(gp, pp, timeout_seconds=t))
    except Exception:  # a parser or verifier failure means "not shown equal"
        return False


# ----------------------------------------------------------------------------------- FinQA
def _first_number_rounded(s: str) -> str:
    m = re.search(r"-?\d+(?:\.\d+)?", s)
    return str(round(float(m.group(0)), 0)) if m else s


def finqa_equal(pred: str | None, gold: Any) -> bool:
    """Reference FinQA rule: `math_equal`, else the FIRST number of each side rounded to an
    integer is the same (a side without a number is compared as text). Lenient on purpose:
    the reference accepts 14.1 for 14.4% and 250 for 250.25."""
    if pred is None or gold is None or not str(pred).strip():
        return False
    if math_equal(pred, gold):
        return True
    return _first_number_rounded(str(pred)) == _first_number_rounded(str(gold))


# ------------------------------------------------------------------------------- KOR-Bench
# operation questions graded by symbolic comparison in the official checker (by idx)
_KOR_MATH_IDX = frozenset(
    [18, 73, 74, 77, 94, 115, 116, 117, 121, 122, 123, 125, 131, 132, 134, 135, 136, 141, 143, 149,
     *range(145, 148), *range(151, 157), 160, 161, 162, 164, 165, 166, 170, 206, 209, *range(211, 216),
     217, 218]
)


def kor_is_math(idx: Any) -> bool:
    try:
        return int(idx) in _KOR_MATH_IDX
    except (TypeError, ValueError):
        return False


def _sympy_latex_equal(a: str, b: str) -> bool:
    try:
        from sympy import simplify
        from sympy.parsing.latex import parse_latex

        return bool(simplify(parse_latex(a)) == simplify(parse_latex(b)))
    except Exception:  # the checker falls back to text equality on any parse failure
        return a == b


def _kor_math(response: str, answer: str) -> bool:
    r, a = kor_brackets(response, "math"), kor_brackets(answer, "math")
    if r == "NULL":
        return False
    if "or" in a:
        rs = [x.strip() for x in r.split("or")]
        gs = [x.strip() for x in a.split("or")]
        try:
            from sympy import simplify
            from sympy.parsing.latex import parse_latex

            return {simplify(parse_latex(x)) for x in rs} == {simplify(parse_latex(x)) for x in gs}
        except Exception:
            return r == a
    return _sympy_latex_equal(r, a)


def _kor_puzzle(rule_id: str, response: str, answer: str) -> bool:
    letters = lambda s: re.sub(r"[^A-Za-z]", "", s).lower()  # noqa: E731
    if rule_id == "1":
        return letters(response) == letters(answer)
    if rule_id == "2":
        return letters(response) in answer.split(",")
    if rule_id == "3":
        words = sorted(w for w in re.split(r"\W+", response.lower()) if w)
        return words == sorted(answer.split(" "))
    if rule_id == "4":
        return letters(response) in answer
    if rule_id == "5":
        return sorted(re.sub(r"\s+", "", response).split(",")) == sorted(answer.split(","))
    if rule_id == "9":
        r, a = response.replace("×", "*").replace("−", "-"), answer.replace("×", "*").replace("−", "-")
        if re.findall(r"[+\-*/]", r.split("=")[0]) != re.findall(r"[+\-*/]", a.split("=")[0]):
            return False
        expected = re.search(r"=\s*(-?\d+)", a)
        return expected is not None and _safe_arith(r.split("=")[0]) == int(expected.group(1))
    if rule_id == "10":
        left = response.replace("×", "*").replace("−", "-").split("=")[0]
        gold_left = answer.split("\n")[0].split("=")[0]
        if sorted(re.sub(r"\W+", "", left)) != sorted(re.sub(r"\W+", "", gold_left)):
            return False
        return _safe_arith(left) == 24
    if rule_id == "18":
        return re.sub(r"[,\s\[\]]+", "", response) == re.sub(r"[,\s\[\]]+", "", answer)
    return re.sub(r"\W+", "", response) == re.sub(r"\W+", "", answer)


def _safe_arith(expr: str) -> float | None:
    """The value of an arithmetic expression of numbers, + - * / and brackets (the official
    checker calls eval on the model's text; this evaluates only arithmetic)."""
    import ast
    import operator

    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise ValueError("not arithmetic")

    try:
        return ev(ast.parse(expr.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, TypeError, RecursionError):
        return None


def kor_equal(response: str | None, answer: str, category: str, rule_id: Any, idx: Any) -> bool:
    """KOR-Bench's official checker (`eval_utils.evaluate_response_vs_answer`), applied, as the
    reference does, to the extracted answer (`kor_extract`). rule_id and idx are compared as
    the dataset's strings."""
    if response is None:
        return False
    rule_id, idx = str(rule_id), str(idx)
    if category == "logic" and rule_id == "5":
        r = kor_brackets(response, "logic")
        return sorted(r.split(";")) == sorted(answer.split(";"))
    if category == "logic":
        return kor_brackets(response, "logic") == kor_brackets(answer, "logic")
    if category == "operation" and idx in ("178", "179"):
        def ineq(s: str) -> list[str]:
            return sorted("".join(m) for m in re.findall(r"(≥|≤)\s*([-]?\d+\.?\d*)", s))
        return ineq(kor_brackets(response, "clean")) == ineq(answer)
    if category == "operation" and rule_id == "18":
        r = "".join(sorted(re.sub(r"\W+", "", kor_brackets(response, "clean"))))
        return r == "".join(sorted(re.sub(r"\W+", "", kor_inner(answer))))
    if category == "operation" and rule_id in ("23", "24", "25"):
        nums = lambda s: [int(x) for x in re.findall(r"\d+", s)]  # noqa: E731
        return nums(kor_brackets(response, "clean")) == nums(answer)
    if category == "operation" and kor_is_math(idx):
        return _kor_math(response, answer)
    if category == "operation" and "or" in answer:
        r = re.sub(r"\\text\{or\}", "or", kor_brackets(response, "clean"))
        if r == "NULL":
            return False
        a = kor_brackets(answer, "clean")
        return sorted(x.strip() for x in r.strip("[[]]").split("or")) == sorted(
            x.strip() for x in a.strip("[[]]").split("or")
        )
    if category == "puzzle":
        return _kor_puzzle(rule_id, kor_inner(response), kor_inner(answer))
    return kor_brackets(response, "clean") == answer


def kor_extract(text: str, category: str, rule_id: Any, idx: Any) -> str:
    """KOR-Bench answer as the reference extracts it (`extract_single_answer`)."""
    rule_id, idx = str(rule_id), str(idx)
    if category == "logic":
        return kor_brackets(text, "logic")
    if category == "operation" and idx not in ("178", "179") and rule_id not in ("18", "23", "24", "25") and kor_is_math(idx):
        return kor_brackets(text, "math")
    return kor_brackets(text, "clean")


# ----------------------------------------------------------------------- Knights and Knaves
def kk_format(canonical: str) -> str:
    """A `Name:role;...` vote key as the reference formats its final answer:
    '(1) Name is a Knight.' lines, names sorted."""
    pairs = [p.split(":", 1) for p in canonical.split(";") if ":" in p]
    return "\n".join(f"({i}) {name} is a {role[:1].upper() + role[1:]}." for i, (name, role) in enumerate(sorted(pairs), 1))


def kk_judge(canonical: str | None, gold: Mapping[str, str] | Sequence[str]) -> bool:
    """Reference K&K `judge_answer` on the formatted final answer: wrong when it numbers more
    people than there are or contains 'if'; right when every gold statement ('Name is a
    knave') appears in it, case-insensitively."""
    if not canonical:
        return False
    conditions = [f"{n} is a {r}" for n, r in gold.items()] if isinstance(gold, Mapping) else [str(c) for c in gold]
    pred = kk_format(canonical)
    for marker in KK_FINISH:
        if marker in pred:
            pred = pred.split(marker)[0]
    if f"({len(conditions) + 1})" in pred or "if" in pred:
        return False
    low = pred.lower()
    return all(c.lower() in low for c in conditions)


def text_equal(pred: str | None, gold: Any) -> bool:
    """Short free-text answers compared without case, spaces, LaTeX wrappers or end punctuation."""
    return pred is not None and gold is not None and compact(str(pred)) == compact(str(gold))
