"""Final-answer extraction: completion text -> the answer a benchmark grades and votes on.

Each extractor follows the reference implementation (ZhangYiqun018/Avengers `evaluate/*`), so a
completion yields the same answer string here as in the authors' evaluation; the docstrings
name the reference function they follow. Extractors return None when the reference would
return an empty string (no answer found).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

__all__ = [
    "ANY_ANSWER",
    "answer_by_pattern",
    "bbh_answer",
    "choice_pattern",
    "first_boxed",
    "kk_canonical",
    "kk_conclusion",
    "kor_brackets",
    "kor_inner",
    "last_boxed",
    "math_answer",
    "sanitize_code",
]

#: the reference's free-text answer line, `Answer: <rest of the line>`
ANY_ANSWER = r"(?i)Answer\s*:\s*([^\n]+)"


def choice_pattern(letters: str) -> str:
    """The reference's multiple-choice answer line for a letter range such as 'A-D'."""
    return rf"(?i)Answer\s*:\s*([{letters}])[.\s\n]?"


def first_boxed(text: str) -> str:
    """Content of the FIRST `\\boxed{...}` (braces balanced; to the end when unclosed), stripped;
    '' when there is none (reference `BaseEvaluator.extract_boxed_content`)."""
    start = text.find("\\boxed{")
    if start < 0:
        return ""
    depth, out = 1, []
    for ch in text[start + len("\\boxed{"):]:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        out.append(ch)
    return "".join(out).strip()


def last_boxed(text: str) -> str | None:
    """Content of the LAST `\\boxed{...}` (braces balanced), else None (reference
    `deepscaler_rm.extract_answer`: `\\fbox` is located but never unwrapped, `\\boxed 5` is None)."""
    if "\\boxed" not in text:
        return None
    idx = text.rfind("\\boxed")
    depth = 0
    for j in range(idx, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                whole = text[idx : j + 1]
                return whole[len("\\boxed{"):-1] if whole.startswith("\\boxed{") else None
    return None


def answer_by_pattern(text: str, pattern: str) -> str | None:
    """Reference `BaseEvaluator.extract_normal_answer`: a completion of at most 10 characters
    without 'Answer'/'box' is the answer itself; else the last match of `pattern`; else the
    'Final Answer' variant of the pattern; else the first `\\boxed{}`."""
    if len(text) <= 10 and "Answer" not in text and "box" not in text:
        return text.lstrip() or None
    hits = re.findall(pattern, text)
    if hits:
        got = hits[-1].strip()
        if got.lower().startswith("answer: "):
            got = got[len("answer:"):].strip()
        return got or None
    final = re.search(pattern.replace(r"Answer\s*:\s", r"Final Answer\s\n+\s"), text)
    if final:
        return final.group(1).strip() or None
    return first_boxed(text) or None


def math_answer(text: str) -> str | None:
    """Reference math extraction (AIME, MATH-500, LiveMathBench, MathBench cloze): the 'Answer:'
    line when the text says 'Final Answer' and has no `\\boxed`, else the last `\\boxed{}`."""
    if "Final Answer" in text and "\\boxed" not in text:
        return answer_by_pattern(text, ANY_ANSWER)
    got = last_boxed(text)
    return got if got else None


def bbh_answer(text: str) -> str | None:
    """Reference BBH extraction: the 'Answer:' line unless the text has a `\\boxed{}`."""
    if "\\boxed" not in text:
        return answer_by_pattern(text, ANY_ANSWER)
    got = last_boxed(text)
    return got if got else None


# ------------------------------------------------------------------------------- KOR-Bench
def _clean_latex(expr: str) -> str:
    if "=" in expr:
        expr = expr.rsplit("=", 1)[1]
    expr = re.sub(r"\\[()\[\]]", "", expr)
    expr = re.sub(r"\\text\{.*?\}", "", expr)
    expr = re.sub(r"\\(left|right|displaystyle)", "", expr)
    return expr.replace("\\\\", "\\")


def kor_brackets(text: str, level: str = "basic") -> str:
    """KOR-Bench's `extract_text_from_brackets`: the FIRST `[[...]]` (else `$\\boxed{...}$`, else
    `[...]`), cleaned per level (`clean`: no quotes/newlines/spaces/brackets; `logic`: no
    quotes/newlines/spaces/dots; `math`: LaTeX cleaned, returned without brackets), wrapped in
    `[[...]]`; 'NULL' when nothing matches (a string the reference votes on like any other)."""
    hits = re.findall(r"\[\[\s*(.*?)\s*\]\]", text, re.DOTALL)
    if not hits:
        hits = re.findall(r"\$\\boxed\{(.*?)\}\$", text, re.DOTALL)
    if not hits:
        hits = re.findall(r"\[\s*(.*?)\s*\]", text, re.DOTALL)
    if not hits:
        return "NULL"
    s = hits[0].strip()
    if level == "clean":
        s = s.replace('"', "").replace("\n", "").replace(" ", "").replace("[", "").replace("]", "")
    elif level == "logic":
        s = s.replace('"', "").replace("\n", "").replace(" ", "").replace(".", "")
    elif level == "math":
        s = s.replace('"', "").replace("\n", "").replace("[", "").replace("]", "").replace("$", "")
        return _clean_latex(s)
    return f"[[{s}]]"


def kor_inner(text: str) -> str:
    """KOR-Bench's `extract_inner_text_from_brackets`: the first `[[...]]` content, else 'NULL'."""
    m = re.search(r"\[\[(.*?)\]\]", text, re.DOTALL)
    return m.group(1) if m else "NULL"


# ----------------------------------------------------------------------- Knights and Knaves
_KK_CONCLUSION = ("CONCLUSION:", "boxed", "Conclusion:", "conclusion:")
KK_FINISH = ("### Reason", "Let's think step by step again", "let's go back and check", "###")


def kk_conclusion(text: str) -> str:
    """Reference K&K `parse_answer`: the text after the first conclusion marker (up to the next
    one), cut at the finish markers; the whole text when there is no marker."""
    text = text.split("### Question")[0]
    out = text
    for marker in _KK_CONCLUSION:
        parts = text.split(marker)
        if len(parts) > 1 and parts[1].strip():
            out = parts[1]
            break
    for marker in KK_FINISH:
        if marker in out:
            out = out.split(marker)[0]
    return out.strip()


def kk_canonical(text: str) -> str | None:
    """A completion's identities as the reference's vote key, `Name:role;...` sorted by name
    (reference `parse_single_answer` on the conclusion); None when no identity is stated."""
    s = re.sub(r"\*\*(.*?)\*\*", r"\1", kk_conclusion(text))
    s = re.sub(r"(?<=[\w\.\}])(\s*),\s*(?=\(\d+\))", "\n", s)
    s = re.sub(r"\\text\{(.*?)\}", r"\1", s)
    found: dict[str, str] = {}
    for line in s.strip().split("\n"):
        if not line.strip():
            continue
        m = re.search(r"\((\d+)\)\s*(.*?):\s*(knight|knave)", line, re.IGNORECASE)
        if m:
            found[m.group(2).strip()] = m.group(3).lower()
            continue
        m = re.search(r"\((\d+)\)\s*(.*?)\s+is\s+a\s+(knight|knave)\.?", line, re.IGNORECASE)
        if m:
            found[m.group(2).strip()] = m.group(3).lower()
            continue
        m = re.search(r"(.*?)\s+is\s+a\s+(knight|knave)\.?", line, re.IGNORECASE)
        if m:
            found[m.group(1).strip()] = m.group(2).lower()
    if not found:
        return None
    return ";".join(f"{name}:{role}" for name, role in sorted(found.items()))


# ------------------------------------------------------------------------------------ code
MAX_CODE_LINES = 100  # the reference only looks at a completion's first 100 lines


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, MemoryError, ValueError):
        return False
    return True


def _longest_valid_code(lines: Sequence[str]) -> str:
    """The span of lines with the most non-blank lines that parses as Python; the first such
    span in (start, end) order on ties. Same answer as trying every span, found with far fewer
    parses: for a start, the largest parsable end gives its best count."""
    n = len(lines)
    nonblank = [1 if ln.strip() else 0 for ln in lines]
    suffix = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        suffix[k] = suffix[k + 1] + nonblank[k]
    best, best_span = 0, (0, -1)
    for i in range(n):
        if suffix[i] <= best:
            break  # no span starting here or later can beat the best one
        count = suffix[i]
        for j in range(n - 1, i - 1, -1):
            if count <= best:
                break
            if _parses("\n".join(lines[i : j + 1])):
                # the earliest end with this count (trailing blank lines do not add to it)
                k = j
                while k > i and not nonblank[k] and _parses("\n".join(lines[i:k])):
                    k -= 1
                best, best_span = count, (i, k)
                break
            count -= nonblank[j]
    i, j = best_span
    return "\n".join(lines[i : j + 1])


def _returns(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Return) for n in ast.walk(node))


def sanitize_code(text: str) -> str | None:
    """Reference `evaluate/MBPP/utils.py::sanitize` (also HumanEval, StudentEval): the longest
    parsable span of the completion's first 100 lines, reduced to its imports, classes,
    functions that return something and simple assignments, each re-printed by `ast.unparse`
    (imports first, then definitions in first-definition order, a later one replacing an
    earlier one of the same name). None when nothing is left."""
    text = text.replace("\t", "    ").replace("\r\n", "\n").replace("\r", "\n").strip() + "\n"
    lines = text.splitlines()[:MAX_CODE_LINES]
    tree = ast.parse(_longest_valid_code(lines))
    imports: list[ast.AST] = []
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, ast.ClassDef):
            defs[node.name] = node
        elif isinstance(node, ast.FunctionDef):
            if _returns(node):
                defs[node.name] = node
        elif isinstance(node, ast.Assign) and node.targets and isinstance(node.targets[0], ast.Name):
            defs[node.targets[0].id] = node
    out = "\n".join(ast.unparse(node) for node in [*imports, *defs.values()])
    return out or None
