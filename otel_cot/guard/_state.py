"""The process-wide guard, in a module with no imports, so the instrumentation's hooks cost one lookup
(and import nothing heavy) while no guard is configured."""

from __future__ import annotations

from typing import Any

active: Any = None
"""The configured ``otel_cot.guard.check.Guard``, or None."""
