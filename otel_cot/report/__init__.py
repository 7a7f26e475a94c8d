"""Trace reports: what ``otel-cot scan --html`` and ``otel-cot demo`` show.

- ``model``: traces as span trees with their content views and findings (``build_traces``), and the
  findings read back from spans that already went through the detectors (``findings_from_otlp``).
- ``html``: one self-contained HTML file (waterfall, reasoning, tool calls, findings; no network).
- ``terminal``: the same tree as text for the terminal.
"""

from .html import render_html, write_html
from .model import ReportSpan, ReportTrace, build_traces, findings_from_otlp, services_from_otlp
from .terminal import render_tree

__all__ = ["ReportSpan", "ReportTrace", "build_traces", "findings_from_otlp", "render_html", "render_tree",
           "services_from_otlp", "write_html"]
