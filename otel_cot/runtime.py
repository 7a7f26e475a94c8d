"""otel-cot's process-wide state, in one object: ``runtime``.

What ``init()`` set up (the tracer provider, whether it is ours, the instrumentors it switched on), the
settings in force, the guard, the internal-error reporter and the tool calls the model asked for that
have not run yet. The object exists from import on, empty, so that the guard and the reporter can be
set before (or without) ``init()``; ``init()`` fills it, ``shutdown()`` empties what ``init()`` filled,
and ``reset()`` (for tests) takes it back to how it was at import.

At the bottom of the package (it imports nothing of otel-cot but the pending-call registry, and holds the
guard and the settings without importing their modules), so every layer may read it. The hot path reads
one attribute of it (``runtime.guard``): no lock, no call.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from .pending import PendingCalls

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


class Runtime:
    __slots__ = ("lock", "started", "provider", "owned", "instrumented", "processors", "settings", "guard",
                 "internal_error_reporter", "pending")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        """Held by ``init()`` and ``shutdown()``."""
        self.pending = PendingCalls()
        self.internal_error_reporter: Callable[[str, BaseException], None] | None = None
        """None: the default (a warning in the ``otel_cot`` log)."""
        self.guard: Any = None
        """The ``otel_cot.guard.check.Guard`` that ``otel_cot.guard.configure`` set, or None."""
        self.settings: Any = None
        """The ``otel_cot.config.Settings`` in force; None: the environment's, read on first use
        (``otel_cot.config.current()``)."""
        self._forget_init()

    def _forget_init(self) -> None:
        self.started = False
        self.provider: TracerProvider | None = None
        self.owned = False
        """``init()`` made the provider (and so shuts it down)."""
        self.instrumented: list[Any] = []
        """What switches the instrumentors on (``InstrumentOnImport``): ``uninstrument()`` each to undo."""
        self.processors: list[Any] = []
        """The span processors ``init()`` added (``BoundedSpanProcessor``)."""

    def start(self, provider: TracerProvider, owned: bool, instrumented: list[Any], processors: list[Any]) -> None:
        """What ``init()`` set up (after setting ``settings``)."""
        self.provider, self.owned, self.instrumented, self.processors = provider, owned, instrumented, processors
        self.started = True

    def stop(self, timeout_millis: int | None = None) -> None:
        """Undo ``start()``: unwrap what was instrumented; shut the provider down if it is ours (our processors
        first, within ``timeout_millis``: default, their ``shutdown_timeout``), else flush it. The settings go back
        to the environment's. Nothing happens if ``start()`` did not."""
        if not self.started:
            return
        for instrumentor in self.instrumented:
            instrumentor.uninstrument()
        provider = self.provider
        if provider is not None:
            if self.owned:
                for processor in self.processors:
                    processor.shutdown(timeout_millis)
                provider.shutdown()
            else:
                provider.force_flush(round(self.settings.shutdown_timeout * 1000) if timeout_millis is None
                                     else timeout_millis)
        self._forget_init()
        self.settings = None

    def reset(self) -> None:
        """Back to the state at import (for tests): stopped, no guard, no settings, no pending tool calls,
        the default internal-error reporter."""
        self.stop()
        self.guard = None
        self.settings = None
        self.pending.clear()
        self.internal_error_reporter = None


runtime = Runtime()
"""The process's one ``Runtime``."""
