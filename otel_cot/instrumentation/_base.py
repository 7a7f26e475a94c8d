"""The instrumentor pattern shared by every library we wrap (opentelemetry-python-contrib style)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Collection

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer

from .. import config
from .. import semconv as sc
from .._version import __version__
from ..config import Settings
from ..internal_errors import report_internal_error

logger = logging.getLogger("otel_cot")


@dataclass
class Telemetry:
    """What an instrumentor's wrappers write with: its tracer and the settings it was switched on with."""

    tracer: Tracer
    settings: Settings


class CotInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base for our instrumentors: ``_targets`` lists what to wrap; uninstrument unwraps exactly that.

    A target in a module the SDK has not imported yet (``openai.resources.responses`` is imported when the client
    first uses ``client.responses``) is wrapped when that module is imported, so instrumenting imports nothing of
    the SDK that the application would not.
    """

    _package: tuple[str, ...] = ()
    _generation = 0
    """Counts ``instrument()`` and ``uninstrument()`` calls: a wrap still pending from an earlier one does nothing."""
    _wrap_lock = threading.Lock()
    """Shared by every instrumentor: held while wrapping, unwrapping or counting a generation (nothing is imported
    under it)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return self._package

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        """(module, "Class.method", wrapt wrapper) triples; missing ones are skipped."""
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        settings = kwargs.get("settings") or config.current()
        tracer = trace.get_tracer(sc.TRACER_NAME, __version__, tracer_provider=kwargs.get("tracer_provider"))
        self._telemetry = Telemetry(tracer, settings)
        with self._wrap_lock:
            self._wrapped: list[tuple[Any, str]] = []
            self._generation += 1
        for module_name, path, wrapper in self._targets(self._telemetry):
            self._wrap_on_import(module_name, path, wrapper)

    def _wrap_on_import(self, module_name: str, path: str, wrapper: Callable[..., Any]) -> None:
        """Wrap now if ``module_name`` is imported, else right after it is (never, if it never is)."""
        generation = self._generation

        def imported(module: Any) -> None:
            try:
                target = _attribute_owner(module, path)  # outside the lock: a lazy SDK package imports here
                if target is None:
                    return
                with self._wrap_lock:
                    if self._generation == generation:
                        wrapt.wrap_function_wrapper(*target, wrapper)
                        self._wrapped.append(target)
            except Exception as exc:  # a post-import hook that raises fails the application's import
                report_internal_error(f"wrapping {module_name}.{path}", exc)

        wrapt.register_post_import_hook(imported, module_name)

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._wrap_lock:
            self._generation += 1  # wraps still waiting for their module's import are off
            for owner, attribute in reversed(self._wrapped):
                unwrap(owner, attribute)
            self._wrapped = []


def _attribute_owner(module: Any, path: str) -> tuple[Any, str] | None:
    """The object holding ``path``'s last part (``"Class.method"``: the class) and that part's name, or None
    (logged) when this version of the SDK has no such attribute."""
    owner_path, _, attribute = path.rpartition(".")
    owner: Any = module
    try:
        for part in filter(None, owner_path.split(".")):
            owner = getattr(owner, part)
        if hasattr(owner, attribute):
            return owner, attribute
    except AttributeError:
        pass
    logger.debug("otel-cot: not wrapping %s.%s (not in this version)", module.__name__, path)
    return None
