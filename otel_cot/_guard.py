"""Internal-error reporting: our bugs are logged, never raised into the user's call."""

from __future__ import annotations

import logging
from typing import Callable

logger = logging.getLogger("otel_cot")

InternalErrorReporter = Callable[[str, BaseException], None]


def _log_internal_error(where: str, exc: BaseException) -> None:
    logger.warning("otel-cot internal error in %s (the instrumented call is unaffected)", where, exc_info=exc)


_reporter: InternalErrorReporter = _log_internal_error


def report_internal_error(where: str, exc: BaseException) -> None:
    try:
        _reporter(where, exc)
    except Exception:  # a broken reporter must not break the caller either
        pass


def set_internal_error_reporter(reporter: InternalErrorReporter | None) -> InternalErrorReporter:
    """Replace the reporter (tests use this to assert "no internal errors"); returns the previous one."""
    global _reporter
    previous = _reporter
    _reporter = reporter or _log_internal_error
    return previous
