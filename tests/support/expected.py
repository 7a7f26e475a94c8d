"""What a user expects to see for a recorded payload, read straight from the raw JSON / SSE.

Written independently of otel_cot's extractors, so the replay tests compare our spans with
the payload rather than with our own parsing.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)


def sse_events(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                try:
                    yield json.loads(data)
                except ValueError:
                    pass


def _responses_items(r: dict[str, Any]) -> list[dict[str, Any]]:
    if r["sse"] is None:
        return r["body"].get("output", [])
    return [ev["item"] for ev in sse_events(r["sse"]) if ev.get("type") == "response.output_item.done"]


def reasoning_texts(fx: dict[str, Any]) -> list[str]:
    r = fx["response"]
    texts: list[str] = []
    if r["status"] >= 400:
        return texts
    if fx["api"] == "messages":
        if r["sse"] is None:
            texts += [b.get("thinking", "") for b in r["body"].get("content", []) if b.get("type") == "thinking"]
        else:
            acc: dict[int, str] = {}
            for ev in sse_events(r["sse"]):
                if ev.get("type") == "content_block_delta" and ev["delta"].get("type") == "thinking_delta":
                    acc[ev["index"]] = acc.get(ev["index"], "") + ev["delta"].get("thinking", "")
            texts += list(acc.values())
    elif fx["api"] == "responses":
        for it in _responses_items(r):
            if it.get("type") == "reasoning":
                texts += [s.get("text", "") for s in it.get("summary") or []]
                texts += [c.get("text", "") for c in it.get("content") or [] if c.get("text")]
    else:
        if r["sse"] is None:
            for ch in r["body"].get("choices", []):
                m = ch.get("message") or {}
                texts += [m.get(k) or "" for k in ("reasoning_content", "reasoning")]
                texts += THINK.findall(m.get("content") or "")
        else:
            acc2: dict[str, str] = {}
            content = ""
            for ev in sse_events(r["sse"]):
                for ch in ev.get("choices") or []:
                    d = ch.get("delta") or {}
                    for k in ("reasoning_content", "reasoning"):
                        if isinstance(d.get(k), str):
                            acc2[k] = acc2.get(k, "") + d[k]
                    content += d.get("content") or ""
            texts += list(acc2.values()) + THINK.findall(content)
    return [t for t in texts if isinstance(t, str) and len(t.strip()) >= 10]


def redacted_reasoning(fx: dict[str, Any]) -> bool:
    """The payload carries reasoning we must mark as present but hidden."""
    r = fx["response"]
    if r["status"] >= 400:
        return False
    if fx["api"] == "messages":
        if r["sse"] is None:
            return any(b.get("type") == "redacted_thinking" for b in r["body"].get("content", []))
        return any(ev.get("type") == "content_block_start" and ev["content_block"].get("type") == "redacted_thinking"
                   for ev in sse_events(r["sse"]))
    if fx["api"] == "responses":
        return any(it.get("type") == "reasoning" and it.get("encrypted_content") for it in _responses_items(r))
    return False


def tool_calls(fx: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(call id, tool name) of each client-side tool call the model asked for."""
    r = fx["response"]
    calls: list[tuple[str | None, str]] = []
    if r["status"] >= 400:
        return calls
    if fx["api"] == "messages":
        if r["sse"] is None:
            blocks = r["body"].get("content", [])
        else:
            blocks = [ev["content_block"] for ev in sse_events(r["sse"]) if ev.get("type") == "content_block_start"]
        calls += [(b.get("id"), b["name"]) for b in blocks if b.get("type") == "tool_use"]
    elif fx["api"] == "responses":
        calls += [(it.get("call_id"), it["name"]) for it in _responses_items(r) if it.get("type") == "function_call"]
    else:
        if r["sse"] is None:
            for ch in r["body"].get("choices", []):
                for tc in (ch.get("message") or {}).get("tool_calls") or []:
                    name = (tc.get("function") or tc.get("custom") or {}).get("name")
                    calls.append((tc.get("id"), name))
        else:
            seen: dict[tuple[int, int], list[Any]] = {}
            for ev in sse_events(r["sse"]):
                for ch in ev.get("choices") or []:
                    for tc in (ch.get("delta") or {}).get("tool_calls") or []:
                        slot = seen.setdefault((ch.get("index", 0), tc.get("index", 0)), [None, None])
                        slot[0] = slot[0] or tc.get("id")
                        slot[1] = slot[1] or (tc.get("function") or {}).get("name")
            calls += [(i, n) for i, n in seen.values()]
    return calls


def usage(fx: dict[str, Any]) -> dict[str, int]:
    """Output and reasoning token counts the payload reports (final values for streams)."""
    r = fx["response"]
    out: dict[str, int] = {}
    if r["status"] >= 400:
        return out
    if fx["api"] == "messages":
        if r["sse"] is None:
            u = r["body"].get("usage") or {}
        else:
            u = {}
            for ev in sse_events(r["sse"]):
                if ev.get("type") == "message_start":
                    u.update(ev["message"].get("usage") or {})
                elif ev.get("type") == "message_delta":
                    u.update({k: v for k, v in (ev.get("usage") or {}).items() if v is not None})
        if "output_tokens" in u:
            out["output"] = u["output_tokens"]
    elif fx["api"] == "responses":
        body = r["body"] if r["sse"] is None else next(
            (ev["response"] for ev in sse_events(r["sse"]) if ev.get("type") == "response.completed"), {})
        u = body.get("usage") or {}
        if "output_tokens" in u:
            out["output"] = u["output_tokens"]
        rt = (u.get("output_tokens_details") or {}).get("reasoning_tokens")
        if rt:
            out["reasoning"] = rt
    else:
        if r["sse"] is None:
            u = r["body"].get("usage") or {}
        else:
            u = {}
            for ev in sse_events(r["sse"]):
                if ev.get("usage"):
                    u = ev["usage"]
        if "completion_tokens" in u:
            out["output"] = u["completion_tokens"]
        rt = (u.get("completion_tokens_details") or {}).get("reasoning_tokens")
        if rt:
            out["reasoning"] = rt
    return out
