"""The instrumentor pattern shared by every library we wrap (opentelemetry-python-contrib style)."""

from __future__ import annotations

import importlib
import logging
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

logger = logging.getLogger("otel_cot")


@dataclass
class Telemetry:
    """What an instrumentor's wrappers write with: its tracer and the settings it was switched on with."""

    tracer: Tracer
    settings: Settings


class CotInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base for our instrumentors: ``_targets`` lists what to wrap; uninstrument unwraps exactly that."""

    _package: tuple[str, ...] = ()

    def instrumentation_dependencies(self) -> Collection[str]:
        return self._package

    def _targets(self, telemetry: Telemetry) -> list[tuple[str, str, Callable[..., Any]]]:
        """(module, "Class.method", wrapt wrapper) triples; missing ones are skipped."""
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        settings = kwargs.get("settings") or config.current()
        tracer = trace.get_tracer(sc.TRACER_NAME, __version__, tracer_provider=kwargs.get("tracer_provider"))
        self._telemetry = Telemetry(tracer, settings)
        self._wrapped: list[tuple[Any, str]] = []
        for module_name, path, wrapper in self._targets(self._telemetry):
            self._wrap(module_name, path, wrapper)

    def _wrap(self, module_name: str, path: str, wrapper: Callable[..., Any]) -> None:
        try:
            module = importlib.import_module(module_name)
            owner_path, _, attribute = path.rpartition(".")
            owner: Any = module
            for part in filter(None, owner_path.split(".")):
                owner = getattr(owner, part)
            if not hasattr(owner, attribute):
                raise AttributeError(f"{module_name}.{path}")
        except (ImportError, AttributeError) as exc:
            logger.debug("otel-cot: not wrapping %s.%s (%s)", module_name, path, exc)
            return
        wrapt.wrap_function_wrapper(owner, attribute, wrapper)
        self._wrapped.append((owner, attribute))

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, attribute in reversed(getattr(self, "_wrapped", [])):
            unwrap(owner, attribute)
        self._wrapped = []
