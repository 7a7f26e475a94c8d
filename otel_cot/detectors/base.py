"""The detector vocabulary: what a detector sees (``SpanView``, ``TraceContext``) and returns (``Finding``).

Nothing here knows about OpenTelemetry SDK classes or protobufs: views are plain data built from span
attributes (see :mod:`otel_cot.detectors.views`), so the same detectors run in-process, in the collector,
over stored traces and over labelled trajectories.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Protocol, runtime_checkable

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

# View kinds. A span can give several views (a model call yields its output text, its reasoning parts and
# every tool call the model asked for).
KIND_REASONING = "reasoning"
KIND_MODEL_CALL = "model_call"  # the model's visible output text (an assistant message)
KIND_TOOL_CALL = "tool_call"  # an action: a tool the model asked for, or an execute_tool span's arguments
KIND_TOOL_RESULT = "tool_result"  # what a tool returned (fetched content, command output)
KIND_USER = "user"  # input from the user
KIND_SYSTEM = "system"  # system instructions
ACTION_KINDS = frozenset({KIND_TOOL_CALL})

CATEGORIES: tuple[str, ...] = (
    "reward_hacking",
    "destructive_action",
    "prompt_injection",
    "secret_exposure",
    "deception",
)


def severity_rank(severity: str) -> int:
    """0 for ``low`` .. 3 for ``critical``; -1 for anything else."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


@dataclass(frozen=True, slots=True)
class SpanView:
    """One thing a detector judges: a piece of reasoning, an action, a tool result, a message.

    ``text`` is the main text of the view (the reasoning, the output text, the user input, the tool
    result, or for a tool call its arguments as text). ``tool`` and ``arguments`` are set for tool calls
    and results. ``location`` says where on the span the text came from (an attribute name, optionally
    with a message part index), for evidence.

    Its fields are slots (no instance dict): the engine makes one or more per span and keeps the recent
    ones in each trace's window, so a view is smaller and, built by ``otel_cot._construct``, cheaper.
    """

    kind: str
    text: str = ""
    tool: str | None = None
    arguments: str | None = None
    error: str | None = None
    trace_id: str = ""
    span_id: str = ""
    span_name: str = ""
    start_time_ns: int = 0
    end_time_ns: int = 0
    location: str = ""
    tool_call_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_action(self) -> bool:
        return self.kind in ACTION_KINDS

    @property
    def reasoning(self) -> str:
        return self.text if self.kind == KIND_REASONING else ""

    @property
    def result(self) -> str:
        return self.text if self.kind == KIND_TOOL_RESULT else ""

    @property
    def output_text(self) -> str:
        return self.text if self.kind == KIND_MODEL_CALL else ""

    @property
    def input_text(self) -> str:
        return self.text if self.kind in (KIND_USER, KIND_SYSTEM) else ""


@dataclass(frozen=True)
class Finding:
    """A detector's verdict about one view. ``span_id`` is the span it is written onto.

    ``mechanism`` names which of the detector's signals fired (``exit_success``, ``claim_vs_failed_run``...),
    stable across versions, so findings can be counted per signal (``otel-cot eval --by-source``) and
    searched on spans (``cot.finding.mechanism``).
    """

    detector_id: str
    detector_version: str
    category: str
    severity: Severity
    score: float
    explanation: str
    evidence: str = ""
    evidence_location: str = ""
    span_id: str = ""
    trace_id: str = ""
    related_span_id: str | None = None
    mechanism: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """More attributes for the finding's evaluation event (e.g. the monitor's judge model)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            object.__setattr__(self, "score", min(1.0, max(0.0, float(self.score))))


class TraceContext:
    """A bounded window of what happened earlier in the same trace.

    ``views`` holds the most recent views (oldest first), at most ``max_views`` of them and at most
    ``max_chars`` characters of text in total; user input is also kept apart (``user_texts``) because
    several detectors compare an action with what the user asked for. ``memo`` is per-detector scratch
    state (keyed by detector id) for derived facts a detector wants to carry forward; a detector must keep
    its own entry small. The engine owns the context and appends each view after the detectors ran on it.
    """

    __slots__ = ("trace_id", "views", "user_texts", "memo", "max_chars", "_chars", "_user_chars",
                 "created", "touched", "seen")

    def __init__(self, trace_id: str = "", max_views: int = 64, max_chars: int = 200_000,
                 now: float = 0.0) -> None:
        self.trace_id = trace_id
        self.views: deque[SpanView] = deque(maxlen=max_views)
        self.user_texts: deque[str] = deque(maxlen=16)
        self.memo: dict[str, Any] = {}
        self.max_chars = max_chars
        self._chars = 0
        self._user_chars = 0
        self.created = now
        self.touched = now
        self.seen: dict[str, None] = {}  # dedupe keys of views already judged (bounded, oldest dropped)

    def add(self, view: SpanView) -> None:
        views = self.views
        chars = self._chars + len(view.text)
        if len(views) == views.maxlen:
            chars -= len(views[0].text)
        views.append(view)
        if chars > self.max_chars:
            while chars > self.max_chars and len(views) > 1:
                chars -= len(views.popleft().text)
        self._chars = chars
        if view.kind == KIND_USER and view.text:
            text = view.text[: self.max_chars // 4]
            if len(self.user_texts) == self.user_texts.maxlen:
                self._user_chars -= len(self.user_texts[0])
            self.user_texts.append(text)
            self._user_chars += len(text)
            while self._user_chars > self.max_chars // 2 and len(self.user_texts) > 1:
                self._user_chars -= len(self.user_texts.popleft())

    def mark_seen(self, key: str, limit: int = 512) -> bool:
        """Record ``key``; False when it was already there."""
        if key in self.seen:
            return False
        self.seen[key] = None
        if len(self.seen) > limit:
            del self.seen[next(iter(self.seen))]
        return True

    @property
    def user_text(self) -> str:
        """Everything the user said in the window, joined."""
        return "\n".join(self.user_texts)

    def recent(self, *kinds: str) -> Iterable[SpanView]:
        """Views of the given kinds, newest first."""
        for view in reversed(self.views):
            if not kinds or view.kind in kinds:
                yield view


@runtime_checkable
class Detector(Protocol):
    """A detector: a stable id and version, the categories it may report, and a pure ``detect``.

    ``detect`` must be linear in the text it reads, must not keep state outside ``ctx.memo``, and may
    raise: the engine isolates failures. A detector may also have ``kinds``, the view kinds it reads (a
    set of ``KIND_*``): the engine then does not call it on views of other kinds.
    """

    id: str
    version: str
    categories: tuple[str, ...]

    def detect(self, view: SpanView, ctx: TraceContext) -> Iterable[Finding]: ...


def snippet(text: str, start: int, end: int, context: int = 40, limit: int = 240) -> str:
    """The matched text with a little context, bounded, on one line."""
    lo = max(0, start - context)
    hi = min(len(text), max(end, start) + context)
    out = text[lo:hi]
    if len(out) > limit:
        out = out[:limit] + "…"
    out = " ".join(out.split())
    return ("…" if lo > 0 else "") + out + ("…" if hi < len(text) else "")


def make_finding(detector: Detector, view: SpanView, category: str, severity: Severity, score: float,
                 explanation: str, evidence: str = "", related_span_id: str | None = None,
                 location: str | None = None, mechanism: str = "") -> Finding:
    """A finding about ``view`` from ``detector``, with the view's ids and location filled in."""
    related = related_span_id if related_span_id and related_span_id != view.span_id else None
    return Finding(
        detector_id=detector.id,
        detector_version=detector.version,
        category=category,
        severity=severity,
        score=score,
        explanation=explanation,
        evidence=evidence,
        evidence_location=location if location is not None else view.location,
        span_id=view.span_id,
        trace_id=view.trace_id,
        related_span_id=related,
        mechanism=mechanism,
    )
