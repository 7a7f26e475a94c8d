"""Our instrumentors, one per provider library, read from our distribution's ``opentelemetry_instrumentor``
entry points: the one list of them (``init()``, ``opentelemetry-instrument`` and the tests all read it).

What each provider instruments comes from its folder's ``package.py`` (``instrumented_module``, the module
it patches; ``_instruments``, its pip requirements), read as text: knowing which providers exist and
whether their library is installed imports neither the instrumentor nor the library.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

logger = logging.getLogger("otel_cot")

ENTRY_POINT_GROUP = "opentelemetry_instrumentor"
DISTRIBUTION = "otel-cot"
ENTRY_POINT_PREFIX = "otel_cot_"
"""An entry point is named ``otel_cot_<folder>``; the provider's name (for ``init(instrument=[...])`` and
``OTEL_COT_INSTRUMENT``) is the folder's."""

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Provider:
    name: str
    """``"google_genai"``: the folder under ``otel_cot/instrumentation/``."""
    entry_point: EntryPoint
    module: str
    """``"google.genai"``: the importable module the instrumentor patches."""
    requirements: tuple[str, ...]

    def installed(self) -> bool:
        """Whether the library is importable (told without importing it)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # a missing parent package ("google" for "google.genai")
            return False

    def load(self) -> type:
        """The instrumentor class (imports our instrumentation of the library, not the library)."""
        return self.entry_point.load()


def _package_constants(folder: Path) -> dict[str, Any]:
    tree = ast.parse((folder / "package.py").read_text(encoding="utf-8"))
    return {target.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def _provider(entry_point: EntryPoint) -> Provider:
    package, _, folder = entry_point.module.rpartition(".")
    if package != __package__ or entry_point.name != ENTRY_POINT_PREFIX + folder:
        raise ValueError(f"entry point {entry_point.name} = {entry_point.value}: expected "
                         f"{ENTRY_POINT_PREFIX}<folder> = {__package__}.<folder>:<Instrumentor>")
    constants = _package_constants(_HERE / folder)
    return Provider(folder, entry_point, constants["instrumented_module"], tuple(constants["_instruments"]))


def providers() -> dict[str, Provider]:
    """Every provider otel-cot has, by name, in entry-point order (installed library or not)."""
    try:
        entry_points = distribution(DISTRIBUTION).entry_points.select(group=ENTRY_POINT_GROUP)
    except PackageNotFoundError:
        logger.warning("otel-cot: no %s distribution metadata (run from a source tree that was never "
                       "installed?); no library will be instrumented: pip install -e .", DISTRIBUTION)
        return {}
    found: dict[str, Provider] = {}
    for entry_point in entry_points:
        try:
            provider = _provider(entry_point)
        except (OSError, SyntaxError, ValueError, KeyError) as exc:  # a packaging bug of ours; never fail init()
            logger.warning("otel-cot: skipping instrumentor entry point %s (%s)", entry_point.name, exc)
            continue
        found[provider.name] = provider
    return found


def installed_instrumentors() -> dict[str, type]:
    """Our instrumentors by provider name, for the libraries that are installed (the SDKs are optional)."""
    found = {}
    for name, provider in providers().items():
        if not provider.installed():
            logger.debug("otel-cot: %s is not installed; not instrumenting it", name)
            continue
        try:
            found[name] = provider.load()
        except (ImportError, AttributeError) as exc:
            logger.debug("otel-cot: instrumentation for %s unavailable (%s)", name, exc)
    return found
