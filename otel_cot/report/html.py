"""A trace report as one self-contained HTML file: a waterfall of spans nested by parent, each with its
reasoning, tool calls and findings, the flagged spans listed at the top.

No server and no network: the CSS and the script are inline, and the page's Content-Security-Policy allows
nothing else (``default-src 'none'``; the one script runs by nonce). Every piece of trace content goes
through :func:`html.escape`, so a span carrying ``<script>`` shows that text and runs nothing.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import html
import json
import os
import secrets
from importlib import resources
from typing import Sequence

from otel_cot.detectors.base import (
    KIND_MODEL_CALL,
    KIND_REASONING,
    KIND_SYSTEM,
    KIND_TOOL_CALL,
    KIND_TOOL_RESULT,
    KIND_USER,
    Finding,
    SpanView,
    severity_rank,
)

from .model import ReportSpan, ReportTrace, format_duration, sorted_findings

# Above this many spans, subtrees with nothing flagged start collapsed.
COLLAPSE_ABOVE = 200
MAX_ATTRIBUTE_CHARS = 4000
_VIEW_LABELS = {KIND_REASONING: "Reasoning", KIND_MODEL_CALL: "Answer", KIND_TOOL_CALL: "Tool call",
                KIND_TOOL_RESULT: "Tool result", KIND_USER: "User input", KIND_SYSTEM: "System prompt"}
_INPUT_PREFIX = "gen_ai.input.messages"  # views of a model call's new input: labelled as input
_VIEW_ORDER = {KIND_USER: 0, KIND_SYSTEM: 0, KIND_TOOL_RESULT: 1, KIND_REASONING: 2, KIND_MODEL_CALL: 3,
               KIND_TOOL_CALL: 4}


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(traces: Sequence[ReportTrace], *, title: str = "otel-cot trace report",
                source: str | None = None) -> str:
    nonce = secrets.token_urlsafe(16)
    findings = [f for t in traces for f in t.findings]
    spans = sum(len(t.spans) for t in traces)
    names = {s.span_id: s.record.name for t in traces for s in t.spans}
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head_title = f"{title}: {len(findings)} finding{'s' if len(findings) != 1 else ''}"
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'nonce-{nonce}'; img-src data:; base-uri 'none'; form-action 'none'\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<meta name=\"generator\" content=\"otel-cot\"><title>{esc(head_title)}</title>",
        f"<style>{_asset('report.css')}</style></head><body>",
        "<header class=\"top\"><div class=\"brand\"><span class=\"logo\">otel-cot</span>"
        f"<span class=\"sub\">{esc(title)}</span></div>"
        f"<div class=\"meta\">{esc(source) + ' · ' if source else ''}generated {esc(generated)}</div></header>",
        "<main>",
        _summary(traces, spans, findings),
        _flagged_list(traces, names),
    ]
    if not traces:
        parts.append("<section class=\"card empty\">No spans in the input.</section>")
    for trace in traces:
        parts.append(_trace_section(trace, names, collapse=spans > COLLAPSE_ABOVE))
    parts.append("</main>")
    parts.append(f"<script nonce=\"{nonce}\">{_asset('report.js')}</script></body></html>\n")
    return "".join(parts)


def write_html(path: str, traces: Sequence[ReportTrace], **kwargs: object) -> str:
    """Write the report to ``path``; returns its absolute path."""
    text = render_html(traces, **kwargs)  # type: ignore[arg-type]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return os.path.abspath(path)


# --- sections -----------------------------------------------------------------------------------------

def _summary(traces: Sequence[ReportTrace], spans: int, findings: list[Finding]) -> str:
    by_severity: dict[str, int] = {}
    for f in findings:
        by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
    flagged = sum(len(t.flagged) for t in traces)
    duration = max((t.end_ns - t.start_ns for t in traces), default=0)
    chips = "".join(f"<span class=\"pill sev-{esc(sev)}\">{n} {esc(sev)}</span>"
                    for sev, n in sorted(by_severity.items(), key=lambda kv: -severity_rank(kv[0])))
    verdict = ("<span class=\"verdict bad\">flagged</span>" if findings
               else "<span class=\"verdict ok\">no findings</span>")
    stat = "<div class=\"stat\"><b>{}</b><span>{}</span></div>".format
    return ("<section class=\"card summary\">" + verdict
            + stat(len(findings), "findings") + stat(flagged, "flagged spans") + stat(spans, "spans")
            + stat(len(traces), "traces" if len(traces) != 1 else "trace")
            + stat(esc(format_duration(duration)), "longest trace")
            + f"<div class=\"chips\">{chips}</div></section>")


def _flagged_list(traces: Sequence[ReportTrace], names: dict[str, str]) -> str:
    items = []
    for trace in traces:
        for span in trace.flagged:
            for f in sorted_findings(span.findings):
                items.append((severity_rank(f.severity), trace, span, f))
    if not items:
        return ""
    items.sort(key=lambda x: -x[0])
    rows = []
    for _, trace, span, f in items:
        found = trace.reasoning_for(span, f)
        reasoning = ""
        if found:
            text = " ".join(found[1].split())
            text = text[:600] + ("…" if len(text) > 600 else "")
            reasoning = (f"<blockquote class=\"reasoning\"><a class=\"jump\" href=\"#{_anchor(found[0].span_id)}\">"
                         f"reasoning</a> {esc(text)}</blockquote>")
        rows.append(
            f"<li class=\"sev-{esc(f.severity)}\"><a class=\"jump\" href=\"#{_anchor(span.span_id)}\">"
            f"<span class=\"pill sev-{esc(f.severity)}\">{esc(f.severity)}</span>"
            f"<span class=\"cat\">{esc(f.category)}</span>"
            f"<span class=\"on\">on <b>{esc(span.record.name)}</b></span></a>"
            f"<div class=\"expl\">{esc(f.explanation)}</div>"
            + (f"<code class=\"evidence\">{esc(f.evidence)}</code>" if f.evidence else "")
            + reasoning + "</li>")
    return (f"<section class=\"card flagged-list\"><h2>Flagged spans</h2><ol>{''.join(rows)}</ol>"
            "</section>")


def _trace_section(trace: ReportTrace, names: dict[str, str], collapse: bool) -> str:
    start, end = trace.start_ns, trace.end_ns
    total = max(end - start, 1)
    when = (_dt.datetime.fromtimestamp(start / 1e9, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            if start else "")
    ticks = "".join(f"<span class=\"tick\" style=\"left:{p}%\">{esc(format_duration(total * p // 100)) if p else 0}"
                    "</span>" for p in (0, 25, 50, 75))
    ticks += f"<span class=\"tick end\">{esc(format_duration(total))}</span>"
    service = f"<span class=\"svc\">{esc(trace.service)}</span>" if trace.service else ""
    flagged = (f"<span class=\"pill sev-{esc(_max_severity(trace))}\">{len(trace.flagged)} flagged</span>"
               if trace.flagged else "")
    opened = trace.explaining_spans()
    body = "".join(_span(root, start, total, names, collapse, opened) for root in trace.roots)
    return (
        f"<section class=\"card trace\" id=\"trace-{esc(trace.trace_id)}\">"
        f"<div class=\"trace-head\"><h2>Trace <code>{esc(trace.trace_id)}</code></h2>{service}{flagged}"
        f"<span class=\"muted\">{esc(when)} · {esc(format_duration(end - start))} · {len(trace.spans)} spans"
        f"</span></div>"
        "<div class=\"toolbar\"><button type=\"button\" data-act=\"expand\">Expand all</button>"
        "<button type=\"button\" data-act=\"collapse\">Collapse all</button>"
        "<button type=\"button\" data-act=\"details\">Open all details</button>"
        "<label><input type=\"checkbox\" data-act=\"flagged-only\"> Flagged path only</label>"
        "<input type=\"search\" data-act=\"filter\" placeholder=\"Filter spans (name, text)\"></div>"
        f"<div class=\"wf-head\"><span class=\"name\">Span</span><span class=\"lane axis\">{ticks}</span></div>"
        f"<div class=\"tree\">{body}</div></section>")


def _max_severity(trace: ReportTrace) -> str:
    return max((s.max_severity or "low" for s in trace.flagged), key=severity_rank, default="low")


def _span(span: ReportSpan, start: int, total: int, names: dict[str, str], collapse: bool,
          opened: set[str]) -> str:
    r = span.record
    left = max(0.0, (r.start_time_ns - start) * 100 / total)
    width = max(0.25, span.duration_ns * 100 / total)
    width = min(width, 100 - left) if left < 100 else 0.25
    end_pct = left + width
    if end_pct < 80:  # the duration after the bar, before it, or inside its end
        label_pos, label_class = f"left:calc({end_pct:.3f}% + 6px)", "dur"
    elif left > 20:
        label_pos, label_class = f"right:calc({100 - left:.3f}% + 6px)", "dur"
    else:
        label_pos, label_class = f"right:calc({100 - end_pct:.3f}% + 6px)", "dur in"
    classes = ["span", f"k-{span.kind}"]
    if span.findings:
        classes += ["flagged", f"sev-{span.max_severity}"]
    if collapse and span.children and not span.on_flagged_path and span.depth >= 1:
        classes.append("collapsed")
    pills = "".join(f"<span class=\"pill sev-{esc(f.severity)}\">{esc(f.category)}</span>"
                    for f in sorted_findings(span.findings))
    twisty = ("<button type=\"button\" class=\"tw\" title=\"show or hide the spans below\">"
              f"<span class=\"count\">{_descendants(span)}</span></button>"
              if span.children else "<span class=\"tw-none\"></span>")
    hint = ("(nested deeper) " if span.flattened else "") + _hint(span)
    children = "".join(_span(c, start, total, names, collapse, opened) for c in span.children)
    is_open = bool(span.findings) or span.span_id in opened
    return (
        f"<div class=\"{' '.join(classes)}\" id=\"{_anchor(span.span_id)}\""
        f"{' data-path' if span.on_flagged_path else ''} data-depth=\"{span.depth}\">"
        f"<details class=\"sp\"{' open' if is_open else ''}><summary class=\"row\">"
        f"<span class=\"name\" style=\"padding-left:{span.depth * 18 + 6}px\">{twisty}"
        f"<span class=\"dot\"></span><span class=\"nm\">{esc(r.name or '(unnamed)')}</span>{pills}"
        f"{'<span class=hint>' + esc(hint) + '</span>' if hint else ''}</span>"
        f"<span class=\"lane\"><span class=\"bar\" style=\"left:{left:.3f}%;width:{width:.3f}%\"></span>"
        f"<span class=\"{label_class}\" style=\"{label_pos}\">{esc(format_duration(span.duration_ns))}</span></span>"
        f"</summary>{_panel(span, names)}</details>"
        f"<div class=\"children\">{children}</div></div>")


def _descendants(span: ReportSpan) -> int:
    return sum(1 + _descendants(c) for c in span.children)


def _hint(span: ReportSpan) -> str:
    """A one-line preview next to the name: the command or arguments, the reasoning, the answer."""
    for kind in (KIND_TOOL_CALL, KIND_REASONING, KIND_MODEL_CALL):
        for view in span.views:
            if view.kind == kind and view.text:
                text = view.text
                if kind == KIND_TOOL_CALL:
                    text = _one_line_arguments(text)
                text = " ".join(text.split())
                return text[:140] + ("…" if len(text) > 140 else "")
    return ""


def _one_line_arguments(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict):
        for key in ("command", "cmd", "file_path", "path", "url", "query"):
            if isinstance(value.get(key), str):
                return value[key]
    return text


def _panel(span: ReportSpan, names: dict[str, str]) -> str:
    r = span.record
    out = [f"<div class=\"panel\" style=\"margin-left:{span.depth * 18 + 30}px\">"]
    for f in sorted_findings(span.findings):
        out.append(
            f"<div class=\"finding sev-{esc(f.severity)}\"><div class=\"fh\">"
            f"<span class=\"pill sev-{esc(f.severity)}\">{esc(f.severity)}</span>"
            f"<b>{esc(f.category)}</b><span class=\"muted\">{esc(f.detector_id)}"
            f"{' v' + esc(f.detector_version) if f.detector_version else ''} · score {f.score:.2f}</span></div>"
            f"<div class=\"expl\">{esc(f.explanation)}</div>"
            + (f"<div class=\"kv\"><span>evidence</span><code class=\"evidence\">{esc(f.evidence)}</code></div>"
               if f.evidence else "")
            + (f"<div class=\"kv\"><span>where</span><code>{esc(f.evidence_location)}</code></div>"
               if f.evidence_location else "")
            + _related(f, names) + "</div>")
    hits = span.flagged_locations()
    for view in sorted(span.views, key=lambda v: _VIEW_ORDER.get(v.kind, 9)):
        out.append(_view(view, hits))
    if span.kind == "finding":
        out.append("<p class=\"muted\">A finding about the parent span, exported after that span had left.</p>")
    out.append(_attributes(span))
    out.append(f"<div class=\"ids muted\">span <code>{esc(r.span_id)}</code>"
               + (f" · parent <a href=\"#{_anchor(r.parent_span_id)}\"><code>{esc(r.parent_span_id)}</code></a>"
                  if r.parent_span_id else "") + "</div></div>")
    return "".join(out)


def _view(view: SpanView, hits: set[str]) -> str:
    label = _VIEW_LABELS.get(view.kind, view.kind)
    if view.kind == KIND_TOOL_RESULT and view.location.startswith(_INPUT_PREFIX):
        label = "Input: tool result"
    extra = ""
    text = view.text
    if view.kind in (KIND_TOOL_CALL, KIND_TOOL_RESULT) and view.tool:
        extra = f" <code class=\"tool\">{esc(view.tool)}</code>"
    if view.kind == KIND_TOOL_CALL:
        text = _pretty_json(text)
    if view.kind == KIND_REASONING:
        source = view.attributes.get("cot.reasoning.source") if view.location == "cot.reasoning.content" else None
        if source:
            extra = f" <span class=\"muted\">{esc(source)}</span>"
    hit = view.location in hits
    body = _arguments(view.text) if view.kind == KIND_TOOL_CALL else None
    return (f"<div class=\"view v-{esc(view.kind)}{' hit' if hit else ''}\">"
            f"<div class=\"vh\">{esc(label)}{extra}{'<span class=flag>⚑ finding</span>' if hit else ''}</div>"
            + (body or f"<pre class=\"txt\">{esc(text)}</pre>") + "</div>")


def _arguments(text: str) -> str | None:
    """Tool-call arguments as a table of their fields (text fields as written, not JSON-escaped), with an
    edit's ``old_string`` / ``new_string`` as a diff; None when the arguments are not a JSON object."""
    try:
        args = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(args, dict) or not args:
        return None
    rows = []
    old, new = args.get("old_string"), args.get("new_string")
    diff = isinstance(old, str) and isinstance(new, str)
    for key, value in args.items():
        if diff and key in ("old_string", "new_string"):
            continue
        shown = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
        rows.append(f"<tr><th>{esc(key)}</th><td><pre>{esc(shown)}</pre></td></tr>")
    if diff:
        rows.append(f"<tr><th>edit</th><td>{_diff(old, new)}</td></tr>")
    return f"<table class=\"args\">{''.join(rows)}</table>"


def _diff(old: str, new: str) -> str:
    lines = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        cls = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
        lines.append(f"<span class=\"{cls}\">{esc(line)}</span>")
    return f"<pre class=\"diff\">{''.join(lines) or esc('(no change)')}</pre>"


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return text


def _attributes(span: ReportSpan) -> str:
    rows = []
    for key in sorted(span.record.attributes):
        value = span.record.attributes[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        if len(text) > MAX_ATTRIBUTE_CHARS:
            text = text[:MAX_ATTRIBUTE_CHARS] + f"… ({len(text) - MAX_ATTRIBUTE_CHARS:,} more characters)"
        rows.append(f"<tr><th>{esc(key)}</th><td>{esc(text)}</td></tr>")
    if not rows:
        return ""
    return (f"<details class=\"attrs\"><summary>Attributes ({len(rows)})</summary>"
            f"<table>{''.join(rows)}</table></details>")


def _related(f: Finding, names: dict[str, str]) -> str:
    if not f.related_span_id:
        return ""
    name = names.get(f.related_span_id, "")
    return (f"<div class=\"kv\"><span>after</span><a class=\"jump\" href=\"#{_anchor(f.related_span_id)}\">"
            f"{esc(name) or 'span'} <code>{esc(f.related_span_id)}</code></a></div>")


def _anchor(span_id: str | None) -> str:
    return "span-" + esc(span_id or "")


def _asset(name: str) -> str:
    return (resources.files("otel_cot.report") / "assets" / name).read_text(encoding="utf-8")
