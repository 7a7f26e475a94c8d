"""The guard's decisions about an agent's tool calls, put onto the ``execute_tool`` spans of those calls.

The coding-agent hooks (:mod:`otel_cot.hooks`) judge a call before it runs; its span is built later, when the
call's result is in the session file, by whichever process exports the session: the hooks' checker, or
``otel-cot watch``. The decision travels between them as one JSON line per call, appended to
``<state dir>/guard-decisions/<agent>/<session>.jsonl`` (the state directory of ``watch``), and is merged into
the span's attributes (``cot.guard.*``, docs/guard.md "On the span") when the span is made.

Gemini CLI gives its hook no call id: the checker records such a decision under an id of its own, with the call's
:func:`signature` (tool and arguments), and a span whose call id has no decision gets the last one recorded for
its signature. So the decision reaches the span even when the span is exported before the checker learns the
call's id from the file (``watch`` polls the file; a refused call has no AfterTool to resolve it).

A call the guard handed to the agent's permission prompt (``ask``) is recorded as asked; whether the person
allowed it is read from the result: a call that ran without error is ``asked-allowed``, one whose result is an
error (the agents report a refusal as an error result) ``asked-denied``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from typing import Any, Iterable, Mapping

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_cot import semconv as sc

MAX_CACHED_FILES = 256
_BY_SIGNATURE = "\x00signature:"  # decisions are also kept under this prefix plus their signature


def signature(tool: str, arguments: Any) -> str:
    """A call's identity by tool and arguments (the arguments as the spans carry them), short whatever their size."""
    text = json.dumps(arguments, sort_keys=True, default=str)
    return tool + "\x00" + hashlib.sha256(text.encode()).hexdigest()


def safe_name(value: str) -> str:
    """``value`` as a file name: itself when it is plain (session ids are UUIDs), else a hash of it."""
    if value and len(value) <= 128 and all(c.isalnum() or c in "._-" for c in value) and value[0] != ".":
        return value
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


def decisions_file(directory: str, agent: str, session: str) -> str:
    """Where the decisions of one session are appended. The hook client (``otel_cot/hooks/client.py``, which runs
    without this package) writes there too, by its own copy of this rule; a test checks that both agree."""
    return os.path.join(directory, "guard-decisions", agent, safe_name(session) + ".jsonl")


class GuardDecisions:
    """The decision files under ``directory`` (the state directory), read when spans of their session are made."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._cache: OrderedDict[str, tuple[tuple[int, int], dict[str, dict[str, Any]]]] = OrderedDict()

    def path(self, agent: str, session: str) -> str:
        return decisions_file(self.directory, agent, session)

    def record(self, agent: str, session: str, call_id: str, tool: str | None, attributes: Mapping[str, Any],
               *, asked: bool = False, call_signature: str | None = None) -> None:
        path = self.path(agent, session)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        line: dict[str, Any] = {"call_id": call_id, "tool": tool, "attributes": dict(attributes)}
        if asked:
            line["asked"] = True
        if call_signature:
            line["signature"] = call_signature
        with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")

    def lookup(self, agent: str, session: str, call_id: str,
               call_signature: str | None = None) -> dict[str, Any] | None:
        """The last decision recorded for the call, else the last one recorded for its signature, or None."""
        decisions = self._read(self.path(agent, session))
        found = decisions.get(call_id)
        if found is None and call_signature:
            found = decisions.get(_BY_SIGNATURE + call_signature)
        return found

    def annotate(self, spans: Iterable[ReadableSpan],
                 signatures: Mapping[str, str] | None = None) -> list[ReadableSpan]:
        """``spans`` with the recorded decision merged into each ``execute_tool`` span that has one.
        ``signatures``: call id -> :func:`signature`, for decisions recorded without the call's id."""
        out = []
        for span in spans:
            attrs = span.attributes or {}
            decision = None
            if attrs.get(sc.GEN_AI_OPERATION_NAME) == sc.OPERATION_EXECUTE_TOOL and attrs.get(sc.GEN_AI_TOOL_CALL_ID):
                call_id = str(attrs[sc.GEN_AI_TOOL_CALL_ID])
                decision = self.lookup(str(attrs.get(sc.GEN_AI_AGENT_NAME)), str(attrs.get(sc.GEN_AI_CONVERSATION_ID)),
                                       call_id, (signatures or {}).get(call_id))
            out.append(span if decision is None else _with_decision(span, decision))
        return out

    def _read(self, path: str) -> dict[str, dict[str, Any]]:
        try:
            st = os.stat(path)
        except OSError:
            return {}
        key = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            self._cache.move_to_end(path)
            return cached[1]
        decisions: dict[str, dict[str, Any]] = {}
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a crash: the others still count
                    if isinstance(entry, dict) and isinstance(entry.get("call_id"), str) \
                            and isinstance(entry.get("attributes"), dict):
                        decisions[entry["call_id"]] = entry
                        if isinstance(entry.get("signature"), str):
                            decisions[_BY_SIGNATURE + entry["signature"]] = entry
        except OSError:
            return {}
        self._cache[path] = (key, decisions)
        while len(self._cache) > MAX_CACHED_FILES:
            self._cache.popitem(last=False)
        return decisions


def _with_decision(span: ReadableSpan, decision: Mapping[str, Any]) -> ReadableSpan:
    attributes = dict(span.attributes or {})
    attributes.update({k: v for k, v in decision["attributes"].items() if isinstance(v, (str, bool, int, float))})
    if decision.get("asked"):
        failed = span.status is not None and span.status.status_code == StatusCode.ERROR
        attributes[sc.COT_GUARD_DECISION] = "asked-denied" if failed else "asked-allowed"
    return ReadableSpan(name=span.name, context=span.context, parent=span.parent, resource=span.resource,
                        attributes=attributes, events=span.events, links=span.links, kind=span.kind,
                        status=span.status, start_time=span.start_time, end_time=span.end_time,
                        instrumentation_scope=span.instrumentation_scope)
