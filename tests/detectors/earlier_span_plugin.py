"""A test plugin that writes its cross-span finding onto the earlier span (the reasoning that planned the
action) rather than the later one: what a finding about an already exported span looks like. Used in
process (tests/detectors/test_exporter.py) and by the collector process (collector/tests/test_finding_spans.py)."""

from otel_cot.detectors.base import Finding


class OnTheEarlierSpan:
    id = "test.on_earlier"
    version = "1"
    categories = ("reward_hacking",)

    def detect(self, view, ctx):
        if view.kind == "tool_call":
            for earlier in ctx.recent("reasoning"):
                return [Finding(self.id, self.version, "reward_hacking", "high", 0.9, "planned here",
                                span_id=earlier.span_id, trace_id=view.trace_id, related_span_id=view.span_id)]
        return []


def make():
    return [OnTheEarlierSpan()]
