from __future__ import annotations

import json


from otel_cot.detectors.base import SpanView, TraceContext


def view(kind: str, text: str = "", tool: str | None = None, span: str = "1", **kw) -> SpanView:
    args = kw.pop("arguments", None)
    if kind == "tool_call" and args is None:
        args = text
    return SpanView(kind=kind, text=text, tool=tool, arguments=args, span_id=span, trace_id="t", **kw)


def run(detector, views: list[SpanView]) -> list:
    ctx = TraceContext("t")
    out = []
    for v in views:
        out.extend(detector.detect(v, ctx))
        ctx.add(v)
    return out


def call(tool: str, **args) -> SpanView:
    return view("tool_call", json.dumps(args), tool=tool)


