"""setuptools, told whether the build is an editable one (``pip install -e``: see setup.py) and, for a wheel
built with ``OTEL_COT_COMPILE=1``, asking for Cython: the hooks of the checkout's
otel_cot/compiled_modules.py. Outside a checkout (an sdist) setuptools' own hooks serve, and setup.py refuses
the compiled build."""

import runpy
from pathlib import Path

from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks this module does not change)

_COMPILED = Path(__file__).resolve().parent.parent / "otel_cot" / "compiled_modules.py"
if _COMPILED.is_file():
    globals().update(runpy.run_path(str(_COMPILED))["backend_hooks"]())
