"""otel_cot.native: the compiled accelerators are used when built and current, the pure-Python paths when
``OTEL_COT_NATIVE=off``, when a module is missing (an install without a C compiler) or built from another
version of its source; ``field_setter`` refuses a class it would not construct exactly; an install without a C
compiler still builds."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cot import native
from tests.support.native import compiled, has_compiler

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("otel_cot._construct", "otel_cot_collector._span_wire")
PATHS = ("from otel_cot.detectors import views, SpanView\nfrom otel_cot_collector import span_records\n"
         "print(views._new_view is SpanView, span_records.span_record is span_records.python_span_record, "
         "views._NATIVE_VIEWS is None)\n")


def _paths(env: dict[str, str] | None = None, prelude: str = "") -> str:
    return subprocess.run([sys.executable, "-c", prelude + PATHS], capture_output=True, text=True, check=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT).stdout.strip()


@pytest.mark.process
def test_the_compiled_paths_are_used_when_built():
    for name in MODULES:
        compiled(name)
    assert _paths({native.ENV: ""}) == "False False False"


@pytest.mark.process
def test_off_forces_the_pure_python_paths():
    for name in MODULES:
        compiled(name)
    assert _paths({native.ENV: "off"}) == "True True True"


@pytest.mark.process
def test_missing_extensions_give_the_pure_python_paths():
    blocked = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in MODULES)  # ImportError
    assert _paths({native.ENV: ""}, blocked) == "True True True"


def test_a_build_of_another_source_version_is_not_used(tmp_path, caplog, monkeypatch):
    compiled("otel_cot._construct")
    monkeypatch.delenv(native.ENV, raising=False)
    source = tmp_path / "_construct.c"
    source.write_text("/* edited since the build */\n")
    assert native.load("otel_cot._construct", source) is None
    assert "compiled from another version" in caplog.text
    current = ROOT / "otel_cot" / "_construct.c"
    assert native.load("otel_cot._construct", current) is not None, "stale build: pip install -e ."
    assert native.load("otel_cot._construct", tmp_path / "absent.c") is not None  # an install without sources


def test_field_setter_refuses_what_it_would_not_construct_exactly():
    @dataclasses.dataclass
    class Post:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass
    class NotInit:
        a: int = dataclasses.field(init=False, default=0)

    for cls in (Post, NotInit):
        with pytest.raises(TypeError):
            native.field_setter(cls)


@pytest.mark.process
def test_an_install_without_a_c_compiler_still_builds(tmp_path):
    # setup.py's extensions built with CC=false (every compile fails): each is skipped with a warning and
    # the build succeeds, as pip install does where there is no compiler
    out = subprocess.run([sys.executable, "scripts/build_accelerators.py", "--build-lib", str(tmp_path / "lib"),
                          "--build-temp", str(tmp_path / "tmp")], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "CC": "false", "LDSHARED": "false"})
    assert out.returncode == 0, out.stderr
    for name in MODULES:
        assert f'building extension "{name}" failed' in out.stderr
    assert not list(tmp_path.rglob("*.so"))


@pytest.mark.process
def test_the_build_script_builds_both(tmp_path):
    if not has_compiler():
        pytest.skip("no C compiler")
    out = subprocess.run([sys.executable, "scripts/build_accelerators.py", "--build-lib", str(tmp_path / "lib"),
                          "--build-temp", str(tmp_path / "tmp")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "lib").rglob("*.so")) == ["_construct", "_span_wire"]


def test_no_compiled_module_shadows_python_source():
    # An editable install copies the built modules beside their C sources; none may stand in for a .py (an
    # edited .py would then be shadowed by a stale build), and each is the build of a .c that is there.
    for package in (ROOT / "otel_cot", ROOT / "collector" / "otel_cot_collector"):
        for built in [*package.rglob("*.so"), *package.rglob("*.pyd")]:
            stem = built.name.split(".")[0]
            assert not built.with_name(stem + ".py").exists() and not (built.parent / stem).is_dir(), built
            assert built.with_name(stem + ".c").is_file(), built
