"""Internal-error reporting: our bugs are logged, never raised into the user's call."""

from __future__ import annotations

import logging
from typing import Callable

from .runtime import runtime

logger = logging.getLogger("otel_cot")

InternalErrorReporter = Callable[[str, BaseException], None]


def log_internal_error(where: str, exc: BaseException) -> None:
    """The default reporter: a warning with the traceback in the ``otel_cot`` log."""
    logger.warning("otel-cot internal error in %s (the instrumented call is unaffected)", where, exc_info=exc)


def report_internal_error(where: str, exc: BaseException) -> None:
    try:
        (runtime.internal_error_reporter or log_internal_error)(where, exc)
    except Exception:  # a broken reporter must not break the caller either
        pass


def set_internal_error_reporter(reporter: InternalErrorReporter | None) -> InternalErrorReporter:
    """Replace the reporter (tests use this to assert "no internal errors"); returns the previous one.

    Works before and after ``init()``; ``None`` restores the default.
    """
    previous = runtime.internal_error_reporter or log_internal_error
    runtime.internal_error_reporter = reporter
    return previous
