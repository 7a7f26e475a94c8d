"""The layer rule of docs/architecture.md "Layers", checked on the code's own imports.

Every module of ``otel_cot`` and ``otel_cot_collector`` is placed in one layer. A module may import
modules of its own layer or of a lower one, never of a higher one; the packages of one layer do not
import each other in a circle. Imports inside functions count too: a lazy import is still a dependency.
A module that is not placed fails the test, so a new module is placed on purpose.
"""

from __future__ import annotations

import ast
import pathlib
from collections import defaultdict
from typing import Iterator

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = {"otel_cot": ROOT / "otel_cot", "otel_cot_collector": ROOT / "collector" / "otel_cot_collector"}

# Lowest first: (layer name, module prefixes). A module belongs to the layer of its longest matching prefix;
# ``otel_cot`` itself (the package's ``__init__``) matches only itself, so a new top-level module must be placed.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("otel_cot._version", "otel_cot.values", "otel_cot.semconv", "otel_cot.textscan",
                    "otel_cot.secrets", "otel_cot.pending", "otel_cot.native", "otel_cot.compiled_modules")),
    ("process state", ("otel_cot.runtime", "otel_cot.config", "otel_cot.internal_errors")),
    ("content", ("otel_cot.content", "otel_cot._setup", "otel_cot._export")),
    ("detectors", ("otel_cot.detectors",)),
    ("judgement", ("otel_cot.guard",)),
    ("monitor", ("otel_cot.monitor",)),
    ("capture and review", ("otel_cot.instrumentation", "otel_cot.coding_agents", "otel_cot.eval",
                            "otel_cot.eval_sources", "otel_cot.eval_monitor", "otel_cot.report")),
    ("agent hooks", ("otel_cot.hooks",)),
    ("public API", ("otel_cot",)),
    ("commands", ("otel_cot.cli", "otel_cot.demo")),
    ("collector", ("otel_cot_collector",)),
]


def _modules() -> Iterator[tuple[str, pathlib.Path]]:
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


MODULES = dict(_modules())


def layer_of(module: str) -> int | None:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            covers = module == prefix or (prefix != "otel_cot" and module.startswith(prefix + "."))
            if covers and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def _resolve(module: str, path: pathlib.Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports(module: str, path: pathlib.Path) -> Iterator[tuple[str, int]]:
    """(imported module of ours, line) for every import in ``path``, submodules named by ``from x import y``
    resolved to ``x.y``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path, node)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target:
                yield target, node.lineno


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = [m for m in MODULES if layer_of(m) is None]
    assert not unplaced, f"place these modules in a layer (tests/test_layers.py, docs/architecture.md): {unplaced}"


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for module, path in MODULES.items():
        own = layer_of(module)
        for target, line in imports(module, path):
            other = layer_of(target)
            if own is not None and other is not None and other > own:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({LAYERS[own][0]}) imports {target} "
                              f"({LAYERS[other][0]})")
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def _package(module: str) -> str:
    """The unit the no-circle rule is about: ``otel_cot.guard``, ``otel_cot.instrumentation``, a top module."""
    parts = module.split(".")
    if parts[0] == "otel_cot_collector":
        return ".".join(parts[:2])
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_two_packages_import_each_other() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for target, _ in imports(module, path):
            a, b = _package(module), _package(target)
            if a != b and b != "otel_cot":
                edges[a].add(b)
    circles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, ())})
    assert not circles, f"packages that import each other: {circles}"


def test_the_library_never_imports_the_collector() -> None:
    found = [f"{path.relative_to(ROOT)}:{line}" for module, path in MODULES.items() if module.startswith("otel_cot.")
             for target, line in imports(module, path) if target.startswith("otel_cot_collector")]
    assert not found, f"otel_cot imports the collector service: {found}"


def test_the_rule_sees_an_upward_import(tmp_path: pathlib.Path) -> None:
    """The walker itself: a lower-layer module importing the instrumentation is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from otel_cot.instrumentation import tools\n", encoding="utf-8")
    found = list(imports("otel_cot.detectors.probe", probe))
    assert ("otel_cot.instrumentation.tools", 2) in found
    assert layer_of("otel_cot.instrumentation.tools") > layer_of("otel_cot.detectors.probe")
