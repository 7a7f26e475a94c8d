"""An example otel-cot plugin: one code detector and one YAML rule pack."""

from __future__ import annotations

import os
import re
from typing import Iterable

from otel_cot.detectors import Finding, SpanView, TraceContext, load_rule_pack
from otel_cot.detectors.base import make_finding

_PROD_HOST = re.compile(r"\b[\w.-]*\.prod\.[\w.-]+\b")


class ProductionHostDetector:
    """Flags tool calls that reach production hosts (``*.prod.*``) — a team-specific policy."""

    id = "example.production_host"
    version = "1"
    categories = ("destructive_action",)

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]:
        if view.kind != "tool_call":
            return ()
        m = _PROD_HOST.search(view.text)
        if not m:
            return ()
        return [make_finding(self, view, "destructive_action", "medium", 0.5,
                             f"tool call reaches production host {m.group(0)}", m.group(0))]


def make_detectors() -> list:
    here = os.path.dirname(__file__)
    return [ProductionHostDetector(), load_rule_pack(os.path.join(here, "rules.yaml"))]
