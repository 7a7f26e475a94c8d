"""Equations stated in prose (``2^3 + 2 = 10``, ``$(5-1)^{3} \\pmod{7} = 1$``) and whether they hold.

An answer that presents a calculation as done ("... mod 998244353 = 1603161") while the arithmetic is
false states a verification that never happened. Only pure number expressions are judged: anything with
a name in it (``n = 3``, ``f(x) = 2``) is not an equation this module can check, and is skipped.
Evaluation is bounded: exponents are only taken under a modulus or when the result stays small.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Iterator

MAX_BITS = 4096
# What an arithmetic side may contain: these characters and these words.
_SIDE_CHARS = set("0123456789+-*/^(){}., \t$−×·÷²³")
_SIDE_WORDS = ("\\times", "\\cdot", "\\left", "\\right", "\\pmod", "\\bmod", "\\div", "mod")
# A side word can only start (end) at a character that starts (ends) one of them.
_WORD_FIRSTS = frozenset(w[0] for w in _SIDE_WORDS)
_WORD_LASTS = frozenset(w[-1] for w in _SIDE_WORDS)
_LATEX = [
    (re.compile(r"\\(?:left|right|,|;|!|quad)"), ""),
    (re.compile(r"\\(?:times|cdot)"), "*"),
    (re.compile(r"\\div"), "/"),
]
_UNICODE = str.maketrans({"−": "-", "×": "*", "·": "*", "÷": "/", "²": "^2", "³": "^3"})
_MOD_SUFFIX = re.compile(r"(?:\\[pb]mod\s*\{\s*(\d+)\s*\}|\(\s*mod\s+(\d+)\s*\)|\bmod\s+(\d+))\s*$", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])")
_CUT = re.compile(r",?\s?(?:\.\.\.|…)")  # "11.28...", "999,242,597,..."
_NUMBER_ONLY = re.compile(r"^-?\d+(?:\.\d+)?$")
# (compiled once here: each was looked up in re's cache on every equals sign)
_BRACED_POWER = re.compile(r"\^\s*\{([^{}]*)\}")
_NOT_EXPRESSION = re.compile(r"[^\d+\-*/(). ]")
_OPERATOR = re.compile(r"\d\s*[-+*/]|\*\*")
_DIGIT = re.compile(r"\d")
_TRAILING_STOPS = re.compile(r"[.,]+$")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


class Unsupported(Exception):
    """Not an expression this module evaluates."""


def _side(text: str) -> str:
    """Rewrite one side into Python expression syntax, or raise Unsupported."""
    s = text.translate(_UNICODE)
    for pattern, repl in _LATEX:
        s = pattern.sub(repl, s)
    s = s.replace("$", "").strip()
    s = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), s)
    s = _BRACED_POWER.sub(r"^(\1)", s).replace("{", "(").replace("}", ")").replace("^", "**")
    if not s or _NOT_EXPRESSION.search(s):
        raise Unsupported(text)
    return s


def _evaluate(expr: str, modulus: int | None) -> int | float:
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError):
        raise Unsupported(expr) from None

    def ev(node: ast.AST) -> int | float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and \
                not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow):
                if not isinstance(left, int) or not isinstance(right, int) or right < 0:
                    raise Unsupported(expr)
                if modulus:
                    return pow(left, right, modulus)
                if right * max(1, abs(left).bit_length()) > MAX_BITS:
                    raise Unsupported(expr)
                return left ** right
            if isinstance(node.op, ast.Div):
                if modulus or right == 0:
                    raise Unsupported(expr)
                return left / right
            op = _OPS.get(type(node.op))
            if op is None:
                raise Unsupported(expr)
            value = op(left, right)
            if isinstance(value, int) and value.bit_length() > MAX_BITS:
                raise Unsupported(expr)
            return value % modulus if modulus and isinstance(value, int) else value
        raise Unsupported(expr)

    value = ev(tree.body)
    return value % modulus if modulus and isinstance(value, int) else value


def _split_modulus(text: str) -> tuple[str, int | None]:
    """A side without its ``mod m`` / ``\\pmod{m}`` / ``(mod m)`` suffix, and ``m``."""
    raw = text.strip()
    m = _MOD_SUFFIX.search(raw)
    if not m:
        return raw, None
    modulus = int(m.group(1) or m.group(2) or m.group(3))
    if modulus <= 1:
        raise Unsupported(text)
    return raw[:m.start()], modulus


def _value(text: str, modulus: int | None) -> tuple[int | float, bool, int]:
    """``(value, has_operator, decimals shown)`` of one side, reduced by ``modulus`` when given."""
    expr = _side(text)
    decimals = len(expr.rsplit(".", 1)[1]) if _NUMBER_ONLY.match(expr) and "." in expr else 0
    has_op = bool(_OPERATOR.search(expr))
    return _evaluate(expr, modulus), has_op, decimals


def _equal(a: int | float, b: int | float, decimals: int, truncated: bool = False) -> bool:
    """``a`` (computed) equals ``b`` (stated) to the precision ``b`` is written with (``11.28...``: cut)."""
    if truncated:  # the stated digits are a prefix of the value (cut), or the value rounded
        if isinstance(b, int) and str(abs(int(a))).startswith(str(abs(b))) and (a >= 0) == (b >= 0):
            return True
        if 0 <= abs(a) - abs(b) < 10 ** -decimals and (a >= 0) == (b >= 0):
            return True
    elif isinstance(a, int) and isinstance(b, int):
        return a == b
    tolerance = 0.5 * 10 ** -decimals if decimals else 1e-9 * max(1.0, abs(a), abs(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=tolerance)


def _bounds(text: str, at: int, step: int, reach: int = 300) -> int:
    """The last index a side reaches from ``at`` in direction ``step`` (``at`` itself when it is empty)."""
    i = at
    stop = max(-1, at - reach) if step < 0 else min(len(text), at + reach)
    word_ends = _WORD_LASTS if step < 0 else _WORD_FIRSTS
    while i + step != stop:
        j = i + step
        c = text[j]
        if c in _SIDE_CHARS:
            i = j
            continue
        if c not in word_ends:  # (no side word can hold this character where the walk would read it)
            break
        for word in _SIDE_WORDS:
            if step < 0 and text.endswith(word, 0, j + 1) and not text[j - len(word):j - len(word) + 1].isalpha():
                i = j - len(word) + 1
                break
            if step > 0 and text.startswith(word, j) and not text[j + len(word):j + len(word) + 1].isalpha():
                i = j + len(word) - 1
                break
        else:
            break
    return i


def false_equations(text: str, limit: int = 50) -> Iterator[tuple[str, int | float, int | float]]:
    """``(equation, stated, actual)`` for each ``calculation = number`` in prose whose two sides differ."""
    # No "=" (blanking the fenced code cannot add one): no equations. (A substring test, exact where the
    # whole-text scan's answer was: "=" is the pattern's loosened form, and it matched a quarter of the tool
    # texts, each a match callback, while only answers ask.)
    if "=" not in text:
        return
    prose = blank_fences(text)
    checked = 0
    positions = equals_signs(prose, limit * 4)
    for n, eq in enumerate(positions):
        if checked >= limit:
            return
        lo = _bounds(prose, eq, -1)
        hi = _bounds(prose, eq, +1)
        if n > 0 and lo <= positions[n - 1]:
            lo = positions[n - 1] + 1
        if n + 1 < len(positions) and hi >= positions[n + 1]:
            hi = positions[n + 1] - 1
        while lo < eq and prose[lo] in " \t$":
            lo += 1
        while hi > eq and prose[hi] in " \t$.,":
            hi -= 1
        before, after = prose[lo - 1:lo], prose[hi + 1:hi + 2]
        if before and (before.isalnum() or before in "_'\"`") or after and (after.isalnum() or after in "_%"):
            continue  # part of a name or a unit: ``E(1) = 5/9``, ``26 * 1000 = 26k``
        left, right = _trim(prose[lo:eq]), _trim(prose[eq + 1:hi + 1])
        if not _DIGIT.search(left) or not _DIGIT.search(right):
            continue
        try:
            left_expr, left_mod = _split_modulus(left)
            right_expr, right_mod = _split_modulus(right)
            if left_mod and right_mod and left_mod != right_mod:
                continue
            modulus = left_mod or right_mod  # "a = b mod m" is read as a congruence
            lv, lop, ldec = _value(left_expr, modulus)
            rv, rop, rdec = _value(right_expr, modulus)
        except (Unsupported, ValueError, OverflowError, ZeroDivisionError, RecursionError):
            continue
        # Only "calculation = stated result": "79 = 7 + 9" (a digit sum written as a rewrite) or
        # "a × b = a × c + ..." are steps of working, not a claimed result.
        if rop or not (lop or left_mod):
            continue
        checked += 1
        truncated = _CUT.match(prose, hi + 1) is not None
        if not _equal(lv, rv, rdec, truncated):
            yield f"{left} = {right}", rv, lv


_NOT_BEFORE_EQUALS = frozenset("=<>!:≤≥≠")


def equals_signs(text: str, limit: int) -> list[int]:
    """Where the first ``limit`` matches of ``(?<![=<>!:≤≥≠])=(?!=)`` start (an ``=`` that is no part of ``==``,
    ``<=``, ``!=``, ``:=``...), by substring search: ``re`` tries the pattern's lookbehind at every character."""
    out: list[int] = []
    i = text.find("=")
    while i >= 0 and len(out) < limit:
        if (i == 0 or text[i - 1] not in _NOT_BEFORE_EQUALS) and not text.startswith("=", i + 1):
            out.append(i)
        i = text.find("=", i + 1)
    return out


def blank_fences(text: str) -> str:
    """Each fenced block (from three backticks to the next three, or to the end) as one space: what
    ``re.sub(r"```.*?(?:```|$)", " ", text, flags=re.DOTALL)`` gives, by substring search (the lazy regex
    tries both of its endings at every character of a block). Its ``$`` also matches just before a final
    line break, which an unclosed block therefore keeps."""
    start = text.find("```") if "`" in text else -1  # (one byte search first: most texts hold no backtick)
    if start < 0:
        return text
    out: list[str] = []
    pos = 0
    while start >= 0:
        out.append(text[pos:start])
        out.append(" ")
        close = text.find("```", start + 3)
        if close >= 0:
            pos = close + 3
        else:
            pos = len(text) - 1 if text.endswith("\n") else len(text)
            break
        start = text.find("```", pos)
    out.append(text[pos:])
    return "".join(out)


def _trim(side: str) -> str:
    """Drop what a sentence puts around an equation: a trailing full stop or comma, unmatched brackets."""
    s = side.strip().strip("$").strip()
    s = _TRAILING_STOPS.sub("", s).strip()
    while s and s.count("(") + s.count("{") < s.count(")") + s.count("}") and s[-1] in ")}":
        s = s[:-1].rstrip()
    while s and s.count("(") + s.count("{") > s.count(")") + s.count("}") and s[0] in "({":
        s = s[1:].lstrip()
    return s
