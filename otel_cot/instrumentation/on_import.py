"""Instrument a library when it is imported, not before: what lets ``init()`` run in milliseconds.

``init()`` arms one :class:`InstrumentOnImport` per provider. Arming registers a wrapt post-import hook on the
provider's ``instrumented_module``: if the library is already imported the instrumentor is switched on at
once, else the first ``import openai`` (anywhere, in any thread) switches it on right after the library's
own module has run. Neither the library nor our instrumentation of it is imported before then.

wrapt has no way to take a hook back, so ``uninstrument()`` (from ``shutdown()``) disarms it with a flag: a
hook that fires afterwards does nothing. A hook never raises (an exception in it would fail the user's
import): failures are reported as internal errors.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import wrapt

from ..internal_errors import report_internal_error

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from ..config import Settings
    from .providers import Provider

logger = logging.getLogger("otel_cot")


class InstrumentOnImport:
    """One provider's instrumentor, switched on when its library is first imported (``arm()``) and off by
    ``uninstrument()``."""

    def __init__(self, provider: "Provider", tracer_provider: "TracerProvider", settings: "Settings") -> None:
        self.provider = provider
        self._tracer_provider: TracerProvider | None = tracer_provider
        self._settings: Settings | None = settings
        self._lock = threading.Lock()
        self._spent = False
        """The hook has fired, or was disarmed."""
        self.instrumentor: Any = None
        """The instrumentor this hook switched on (None until the library is imported, or if it was
        already on: ``opentelemetry-instrument`` got there first)."""

    def arm(self) -> "InstrumentOnImport":
        wrapt.register_post_import_hook(self._imported, self.provider.module)
        return self

    def _imported(self, module: Any) -> None:
        try:
            with self._lock:
                if self._spent:
                    return
                self._spent = True
                self._instrument()
        except Exception as exc:
            report_internal_error(f"instrumenting {self.provider.name} on import", exc)

    def _instrument(self) -> None:
        try:
            instrumentor = self.provider.load()()
        except (ImportError, AttributeError) as exc:  # a library version our instrumentation cannot read
            logger.debug("otel-cot: instrumentation for %s unavailable (%s)", self.provider.name, exc)
            return
        tracer_provider, settings = self._tracer_provider, self._settings
        self._tracer_provider = self._settings = None
        if instrumentor.is_instrumented_by_opentelemetry:
            return
        instrumentor.instrument(tracer_provider=tracer_provider, settings=settings)
        if instrumentor.is_instrumented_by_opentelemetry:
            self.instrumentor = instrumentor

    def uninstrument(self) -> None:
        """Disarm the hook if it has not fired; switch the instrumentor off if it did."""
        with self._lock:
            self._spent = True
            self._tracer_provider = self._settings = None
            instrumentor, self.instrumentor = self.instrumentor, None
        if instrumentor is not None and instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
