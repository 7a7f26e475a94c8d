"""The package's structure: one provider registry, read from the entry points; no private name imported across a
package boundary; the guard imports nothing of the instrumentation (the instrumentation calls the guard)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cot.instrumentation.providers import ENTRY_POINT_GROUP, providers

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "otel_cot"


def test_the_registry_is_pyprojects_entry_points():
    tomllib = pytest.importorskip("tomllib")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][ENTRY_POINT_GROUP]
    registry = {p.entry_point.name: p.entry_point.value for p in providers().values()}
    assert registry == declared, "installed metadata differs from pyproject.toml: reinstall (pip install -e .)"
    for name, provider in providers().items():
        instrumentor = provider.load()
        assert tuple(instrumentor().instrumentation_dependencies()) == provider.requirements, name
        assert provider.installed(), f"{name}: the test environment installs every instrumented library"


@pytest.mark.process
def test_the_registry_imports_no_instrumentor_and_no_library():
    code = ("import sys\nfrom otel_cot.instrumentation.providers import providers\n"
            "found = providers()\nassert all(p.installed() for p in found.values())\n"
            "libraries = {p.module for p in found.values()}\n"
            "instrumentors = {p.entry_point.module for p in found.values()}\n"
            "print(sorted((libraries | instrumentors) & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for each import in the file, relative imports resolved; name None for ``import x``."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module.removesuffix(".__init__") if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(p for p in (base, node.module) if p)
            out += [(target, alias.name) for alias in node.names]
    return out


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_package_boundary(path):
    """A private module (``pkg._m``) or name (``_n`` of ``pkg.m``) is imported only from inside ``pkg``."""
    importer = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for target, name in _imports(path):
        if not target.startswith("otel_cot"):
            continue
        parts = target.split(".")
        owners = [".".join(parts[:i]) for i, part in enumerate(parts) if _private(part)]
        if name is not None and _private(name):
            owners.append(target.rpartition(".")[0] if not (PACKAGE.parent / target.replace(".", "/")).is_dir()
                          else target)
        for owner in owners:
            assert importer == owner or importer.startswith(owner + "."), f"{importer} imports {target} {name or ''}"


def test_the_guard_imports_nothing_of_the_instrumentation():
    for path in sorted((PACKAGE / "guard").rglob("*.py")):
        assert not [t for t, _ in _imports(path) if t.startswith("otel_cot.instrumentation")], path


def test_the_guard_package_points_to_the_recording_check():
    import otel_cot.guard

    with pytest.raises(AttributeError, match="use otel_cot.check_tool_call"):
        otel_cot.guard.check_tool_call  # noqa: B018


def test_a_malformed_entry_point_is_skipped_with_a_warning(monkeypatch, caplog):
    from importlib.metadata import EntryPoint, EntryPoints

    from otel_cot.instrumentation import providers as registry

    good = [p.entry_point for p in providers().values()]
    bad = EntryPoint("otel_cot_elsewhere", "somewhere_else:Instrumentor", ENTRY_POINT_GROUP)

    class Distribution:
        entry_points = EntryPoints([*good, bad])

    monkeypatch.setattr(registry, "distribution", lambda name: Distribution())
    assert list(registry.providers()) == [ep.name.removeprefix("otel_cot_") for ep in good]
    assert "skipping instrumentor entry point otel_cot_elsewhere" in caplog.text
