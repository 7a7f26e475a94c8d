"""setuptools, with the hooks of otel_cot/compiled_modules.py: editable builds stay pure Python, and a wheel
build with ``OTEL_COT_COMPILE=1`` asks for Cython (see setup.py)."""

import runpy
from pathlib import Path

from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks this module does not change)

globals().update(runpy.run_path(str(Path(__file__).resolve().parent / "otel_cot" / "compiled_modules.py"))
                 ["backend_hooks"]())
