"""setuptools, told whether the build is an editable one (``pip install -e``): see setup.py."""

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (the PEP 517 hooks this module does not change)


def _editable(hook):
    def run(*args, **kwargs):
        os.environ["OTEL_COT_EDITABLE_BUILD"] = "1"
        try:
            return hook(*args, **kwargs)
        finally:
            os.environ.pop("OTEL_COT_EDITABLE_BUILD", None)
    return run


prepare_metadata_for_build_editable = _editable(_setuptools.prepare_metadata_for_build_editable)
build_editable = _editable(_setuptools.build_editable)
get_requires_for_build_editable = _editable(_setuptools.get_requires_for_build_editable)
