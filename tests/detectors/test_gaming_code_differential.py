"""The structural gaming checks, rewritten to walk less of the syntax tree, answer what they answered before:
frozen copies of the old functions against the new ones on random programs and on this repository's code."""

from __future__ import annotations

import ast
import random
from pathlib import Path

from otel_cot.detectors import gaming_code
from otel_cot.detectors.gaming_code import walk_nodes

# (the unchanged helpers the frozen copies call)
_CONTAINERS, _callee = gaming_code._CONTAINERS, gaming_code._callee
_compared_parameters = gaming_code._compared_parameters
_direct_returns, _lazy_setup, _literal = gaming_code._direct_returns, gaming_code._lazy_setup, gaming_code._literal
_parse, _target_name = gaming_code._parse, gaming_code._target_name


# --- frozen: the functions as they were before the rewrite ------------------------------------------
def _old_parameter_literals(code: str) -> tuple[int, int] | None:
    """``if a == 13 and b == 15: return 9``: two or more parameters of the function compared with numbers
    (not 0, 1, 2) in one condition whose branch returns a literal (not a boolean or None)."""
    for fn, offsets in _old_functions(code):
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
        for node in walk_nodes(fn):
            if not isinstance(node, (ast.If, ast.IfExp)):
                continue
            compared = _compared_parameters(node.test, params)
            if len(compared) < 2:
                continue
            returns = [r.value for r in _direct_returns(node.body)] if isinstance(node, ast.If) else [node.body]
            if any(_literal(v) for v in returns):
                start = offsets[node.lineno - 1] + node.col_offset
                return start, start + 2
    return None


def _old_state_toggle(code: str) -> tuple[int, int] | None:
    """A function that keeps state across calls and returns a literal under a test of that state."""
    for fn, offsets in _old_functions(code):
        nodes = walk_nodes(fn)  # (walked once for both passes)
        state = _old_persistent_names(fn, nodes)
        if not state:
            continue
        for node in nodes:
            if isinstance(node, ast.If) and _old_uses(node.test, state) and not _lazy_setup(node.test):
                for ret in _direct_returns(node.body):
                    if _literal(ret.value) and not _old_uses(ret.value, state):
                        start = offsets[node.lineno - 1] + node.col_offset
                        return start, offsets[ret.lineno - 1] + (ret.end_col_offset or ret.col_offset)
            if isinstance(node, ast.IfExp) and _old_uses(node.test, state) and \
                    _literal(node.body) and _literal(node.orelse):
                start = offsets[node.lineno - 1] + node.col_offset
                return start, start + 1
    return None


def _old_functions(code: str):
    """Every function definition in ``code`` (nested ones too), with the line offsets."""
    parsed = _parse(code)
    if parsed is None:
        return
    tree, offsets = parsed
    for node in walk_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, offsets


def _old_persistent_names(fn: ast.FunctionDef | ast.AsyncFunctionDef, nodes: list[ast.AST]) -> set[str]:
    """Names (or ``fn.attr`` spellings) of state that outlives a call and that ``fn`` changes (``nodes``:
    ``walk_nodes(fn)``)."""
    declared: set[str] = set()
    mutable_defaults: set[str] = set()
    args = fn.args.args + fn.args.kwonlyargs
    defaults = [None] * (len(fn.args.args) - len(fn.args.defaults)) + list(fn.args.defaults) + \
        list(fn.args.kw_defaults)
    for arg, default in zip(args, defaults):
        if isinstance(default, (ast.Dict, ast.List, ast.Set)) or (
                isinstance(default, ast.Call) and _callee(default).rsplit(".", 1)[-1] in _CONTAINERS):
            mutable_defaults.add(arg.arg)
    changed: set[str] = set()
    local: set[str] = {a.arg for a in args} - mutable_defaults
    mutated: set[str] = set()  # changed in place (subscript or method), not rebound
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
        if isinstance(node, ast.Global):  # (nonlocal state lives in an enclosing call: a helper's, usually)
            declared.update(node.names)
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = _target_name(target, fn.name)
            if name:
                changed.add(name)
                if isinstance(target, ast.Subscript) or isinstance(node, ast.AugAssign):
                    mutated.add(name)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("append", "add", "update", "setdefault", "pop", "extend", "clear") and \
                isinstance(node.func.value, ast.Name):
            changed.add(node.func.value.id)
            mutated.add(node.func.value.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" and \
                node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == fn.name:
            changed.add(fn.name + ".")
    local -= declared
    # state from outside the call: declared global/nonlocal, a mutable default, an attribute of the
    # function itself, or a container changed in place that the function never binds (module level)
    return {n for n in changed if n in declared or n in mutable_defaults or n.startswith(fn.name + ".") or
            (n in mutated and n not in local)}


def _old_uses(node: ast.AST | None, state: set[str]) -> bool:
    if node is None:
        return False
    for sub in walk_nodes(node):
        if isinstance(sub, ast.Name) and sub.id in state:
            return True
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and \
                (f"{sub.value.id}.{sub.attr}" in state or f"{sub.value.id}." in state):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "getattr" and \
                sub.args and isinstance(sub.args[0], ast.Name) and any(s.startswith(sub.args[0].id + ".")
                                                                       for s in state):
            return True
    return False


# --- random programs ------------------------------------------------------------------------------
_NAMES = ("n", "a", "b", "seen", "calls", "cache", "count", "f", "solve", "state", "x")
_LITERALS = ("0", "1", "2", "9", "13", "12345", "-4", "'yes'", "b'x'", "(1, 2)", "[3]", "None", "True", "...",
             "not 1", "x", "[]", "()")
_SIMPLE = ("global {n}", "nonlocal {n}", "{n} += 1", "{n}[{l}] = {l}", "{n}[0][1] += {l}", "{n}.append({l})",
           "{n}.pop()", "{n}.add({n})", "{n}.clear()", "{n} = {l}", "{n}: int = {l}", "{n}, {m} = {l}, {l}",
           "setattr({n}, 'count', {l})", "{n}.calls = {l}", "{n}.{m} += 1", "return {l}", "return {n}",
           "return {l} if {n} else {l}", "return {l} if {n} == {l} else {l}", "print({n}, {m})", "pass",
           "y = getattr({n}, 'count', 0)", "z = lambda {n}: {l} if {n} else {l}", "del {n}", "import os",
           "{n} = [i for i in {m} if i]", "assert {n} == {l}", "raise ValueError({l})", "yield {n}")
_CONDITIONS = ("{n}", "{n} == {l}", "{n} is None", "{n} is not None", "{n} == {l} and {m} == {l}",
               "{l} == {n} and {m} == {l} and {n} > 0", "{n}.{m} > {l}", "getattr({n}, 'count', 0)",
               "not {n}", "{n} in {m}", "{n} == {l} or {m} == {l}", "a == 13 and b == {l}",
               "{l} == a and b == 15 and {n}")
_SIGNATURES = ("()", "({n})", "({n}, {m})", "({n}={{}}, {m}=[])", "({n}, {m}=set())", "({n}, *, {m}=dict())",
               "({n}=Counter(), {m}=collections.defaultdict(list))", "({n}=1, {m}=None)", "(*args, **kw)",
               "({n}: int, {m}: str = 'a')", "(a, b)", "(a, *, b=0)")


def _fill(rnd: random.Random, template: str) -> str:
    return template.format(n=rnd.choice(_NAMES), m=rnd.choice(_NAMES), l=rnd.choice(_LITERALS))


def _block(rnd: random.Random, indent: int, depth: int) -> list[str]:
    pad = "    " * indent
    lines: list[str] = []
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.random()
        if depth > 0 and kind < 0.15:
            prefix = rnd.choice(("def", "def", "async def"))
            lines.append(f"{pad}{prefix} {rnd.choice(_NAMES)}{_fill(rnd, rnd.choice(_SIGNATURES))}:")
            lines += _block(rnd, indent + 1, depth - 1)
        elif depth > 0 and kind < 0.3:
            lines.append(f"{pad}{rnd.choice(('if', 'while', 'elif' if lines else 'if'))} "
                         f"{_fill(rnd, rnd.choice(_CONDITIONS))}:")
            lines += _block(rnd, indent + 1, depth - 1)
            if rnd.random() < 0.3:
                lines.append(f"{pad}else:")
                lines += _block(rnd, indent + 1, depth - 1)
        elif depth > 0 and kind < 0.38:
            header = rnd.choice(("for i in range(3):", "with open(x) as fh:", "class C:", "try:"))
            lines.append(pad + header)
            lines += _block(rnd, indent + 1, depth - 1)
            if header == "try:":
                lines.append(f"{pad}except Exception:")
                lines += _block(rnd, indent + 1, depth - 1)
        elif depth > 0 and kind < 0.42:
            lines.append(f"{pad}match {rnd.choice(_NAMES)}:")
            lines.append(f"{pad}    case {rnd.choice(('1', '[a, b]', '_'))}:")
            lines += _block(rnd, indent + 2, depth - 1)
        elif kind < 0.5:
            body = "return {l}" if rnd.random() < 0.5 else rnd.choice(_SIMPLE)
            lines.append(f"{pad}if {_fill(rnd, rnd.choice(_CONDITIONS))}: {_fill(rnd, body)}")
        else:
            lines.append(pad + _fill(rnd, rnd.choice(_SIMPLE)))
    return lines


def _programs(count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        lines = _block(rnd, 0, 4)
        if rnd.random() < 0.2:  # a function answering one pair of literal inputs, among the rest
            lines += [f"def {rnd.choice(_NAMES)}(a, b, {rnd.choice(_NAMES)}=0):"] + \
                [f"    {line}" for line in _block(rnd, 0, 2)] + \
                [_fill(rnd, "    if a == 13 and b == {l}: return {l}")]
        out.append("\n".join(lines) + "\n")
    return out


def _repository_code() -> list[str]:
    root = Path(__file__).resolve().parents[2]
    return [p.read_text(encoding="utf-8") for p in sorted((root / "otel_cot").rglob("*.py"))]


def _answers(code: str) -> tuple:
    gaming_code._LAST_PARSE = (None, None)  # (each side parses on its own: the trees are compared by identity)
    functions = gaming_code._functions(code)
    new = (gaming_code._state_toggle(code), gaming_code._parameter_literals(code),
           [(id(fn), sorted(gaming_code._persistent_names(fn, nodes))) for fn, _, nodes in functions])
    old = (_old_state_toggle(code), _old_parameter_literals(code),
           [(id(fn), sorted(_old_persistent_names(fn, walk_nodes(fn)))) for fn, _ in _old_functions(code)])
    return new, old


def test_state_and_literal_checks_answer_what_the_old_ones_did():
    programs = _programs(6000, seed=21)
    parsed = [code for code in programs if _parse(code) is not None]
    assert len(parsed) > 1500  # (most random programs parse: the checks have trees to read)
    found = {"state": 0, "literals": 0}
    for code in parsed + _repository_code():
        new, old = _answers(code)
        assert new == old, code
        found["state"] += new[0] is not None
        found["literals"] += new[1] is not None
    assert found["state"] > 50 and found["literals"] > 20, found  # (both answers were exercised, not only None)


def test_statements_reach_every_definition_in_ast_walk_order():
    for code in _programs(2000, seed=22) + _repository_code():
        parsed = _parse(code)
        if parsed is None:
            continue
        tree = parsed[0]
        definitions = (ast.FunctionDef, ast.AsyncFunctionDef)
        assert [id(n) for n in gaming_code._statements(tree) if isinstance(n, definitions)] == \
            [id(n) for n in ast.walk(tree) if isinstance(n, definitions)], code


def test_tree_nodes_is_ast_walk_without_operator_and_context_singletons():
    singletons = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
    for code in _programs(2000, seed=23) + _repository_code():
        parsed = _parse(code)
        if parsed is None:
            continue
        tree = parsed[0]
        assert [id(n) for n in gaming_code.tree_nodes(tree)] == \
            [id(n) for n in ast.walk(tree) if not isinstance(n, singletons)], code


def test_constructs_repeated_in_a_row_answer_as_a_fresh_judgement():
    # (the last answer is kept for the same code and flag: a different flag, or code, is judged again, and a
    # caller changing the list it got changes nothing for the next caller)
    rnd = random.Random(24)
    pool = _programs(150, seed=25) + ["import sys\nsys.exit(0)\ndef f():\n    pass\n",
                                      "class A:\n    def __eq__(self, other):\n        return True\n",
                                      "import pytest\npytest.skip('x', allow_module_level=True)\n"]
    calls = 0
    for _ in range(3000):
        code = rnd.choice(pool[:12]) if rnd.random() < 0.5 else rnd.choice(pool)
        test_file = rnd.random() < 0.3
        for _ in range(rnd.randint(1, 3)):  # (the same call again, as a retry or a second detector makes it)
            got = gaming_code.constructs(code if rnd.random() < 0.5 else "".join(list(code)), test_file=test_file)
            assert got == gaming_code._constructs(code, test_file), (code, test_file)
            got.append(gaming_code.Construct("x", "y", 0, 0))
            calls += 1
    assert calls > 4000

