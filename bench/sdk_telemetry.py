"""Dump every span otel-cot emits over the recorded provider fixtures, normalised, to compare two versions.

    python bench/sdk_telemetry.py dump /tmp/before.json     # on the old code
    python bench/sdk_telemetry.py dump /tmp/after.json      # on the new code
    python bench/sdk_telemetry.py diff /tmp/before.json /tmp/after.json

A check for performance work: a change to the hot path must not change the telemetry. Every fixture in
tests/fixtures/providers (OpenAI, OpenAI-compatible, Anthropic, Gemini) is replayed through the real SDK,
sync and async, under several settings: the defaults; a 40-character content limit (truncation
everywhere); redaction off; streams closed after their third chunk; and the request with credentials
added to its input (redaction). For each call the spans are written down as exported — name, kind,
parent (by position), attributes, events, status, links — with only the clock values replaced
(timestamps, gen_ai.response.time_to_first_chunk) and the replay server's port, plus the ordering facts that depend on time:
reasoning spans inside their parent, start ≤ end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OTEL_COT_DETECT", "false")

SECRETS = ("please use AKIAIOSFODNN7EXAMPLE and ghp_abcdefghijklmnopqrstuvwxyz0123456789 "
           "and password=hunter2hunter2 to log in")


def _value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _spans(exporter) -> list[dict[str, Any]]:
    spans = exporter.get_finished_spans()
    ids = {s.context.span_id: i for i, s in enumerate(spans)}
    out = []
    for s in spans:
        attrs = {k: _value(v) for k, v in sorted((s.attributes or {}).items())}
        if "gen_ai.response.time_to_first_chunk" in attrs:
            attrs["gen_ai.response.time_to_first_chunk"] = "<seconds>" if attrs[
                "gen_ai.response.time_to_first_chunk"] >= 0 else "<negative>"
        if attrs.get("server.address") == "127.0.0.1":
            attrs["server.port"] = "<replay port>"
        parent = s.parent.span_id if s.parent is not None else None
        entry = {
            "name": s.name, "kind": s.kind.name, "parent": ids.get(parent, "external" if parent else None),
            "attributes": attrs,
            "events": [{"name": e.name, "attributes": {k: _value(v) for k, v in sorted((e.attributes or {}).items())}}
                       for e in s.events],
            "status": [s.status.status_code.name, s.status.description],
            "links": len(s.links), "start<=end": s.start_time <= s.end_time,
        }
        if parent in ids:
            p = spans[ids[parent]]
            entry["inside_parent"] = p.start_time <= s.start_time and s.end_time <= p.end_time
        out.append(entry)
    return out


def _with_secrets(fx: dict[str, Any]) -> dict[str, Any]:
    fx = json.loads(json.dumps(fx))
    body = fx["request"]["body"]
    api = fx["api"]
    if api in ("chat.completions", "messages") and isinstance(body.get("messages"), list):
        body["messages"].append({"role": "user", "content": SECRETS})
    elif api == "responses":
        if isinstance(body.get("input"), str):
            body["input"] += " " + SECRETS
        elif isinstance(body.get("input"), list):
            body["input"].append({"role": "user", "content": SECRETS})
    elif api == "generate_content":
        body["contents"] = list(body.get("contents") or []) + [{"role": "user", "parts": [{"text": SECRETS}]}]
    return fx


def _openai_anthropic(fx, url, is_async, close_after):
    from tests.support.calls import kwargs_for, resource_for

    resource = resource_for(fx, url, is_async)
    kwargs = kwargs_for(resource.create, dict(fx["request"]["body"]))
    stream = bool(fx["request"]["body"].get("stream"))

    async def run_async():
        try:
            out = await resource.create(**kwargs)
            if stream:
                n = 0
                async for _ in out:
                    n += 1
                    if close_after and n >= close_after:
                        await out.close()
                        break
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__
        return "ok"

    if is_async:
        return asyncio.run(run_async())
    try:
        out = resource.create(**kwargs)
        if stream:
            n = 0
            for _ in out:
                n += 1
                if close_after and n >= close_after:
                    out.close()
                    break
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return "ok"


def _gemini(fx, url, is_async, close_after):
    from tests.test_google_genai import _client, _kwargs

    client = _client(url)

    async def run_async():
        try:
            if fx["stream"]:
                gen = await client.aio.models.generate_content_stream(**_kwargs(fx))
                n = 0
                async for _ in gen:
                    n += 1
                    if close_after and n >= close_after:
                        await gen.aclose()
                        break
            else:
                await client.aio.models.generate_content(**_kwargs(fx))
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__
        return "ok"

    if is_async:
        return asyncio.run(run_async())
    try:
        if fx["stream"]:
            gen = client.models.generate_content_stream(**_kwargs(fx))
            n = 0
            for _ in gen:
                n += 1
                if close_after and n >= close_after:
                    gen.close()
                    break
        else:
            client.models.generate_content(**_kwargs(fx))
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return "ok"


def dump(path: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_cot.config import Settings
    from otel_cot.instrumentation.anthropic import AnthropicInstrumentor
    from otel_cot.instrumentation.google_genai import GoogleGenAIInstrumentor
    from otel_cot.instrumentation.openai import OpenAIInstrumentor
    from tests.support.fixtures import index, load
    from tests.support.replay import ReplayServer

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor(), GoogleGenAIInstrumentor()]
    base = Settings.from_env({})
    variants = {
        "default": (base, False, 0),
        "limit40": (dataclasses.replace(base, max_content_length=40), False, 0),
        "no-redaction": (dataclasses.replace(base, redact_secrets=False), True, 0),
        "secrets": (base, True, 0),
        "closed-after-3": (base, False, 3),
    }
    replay = ReplayServer()
    out: dict[str, Any] = {}
    try:
        for variant, (settings, secrets, close_after) in variants.items():
            for i in instrumentors:
                if i.is_instrumented_by_opentelemetry:
                    i.uninstrument()
                i.instrument(tracer_provider=provider, settings=settings)
            for entry in index():
                name = entry["file"]
                fx = load(name)
                if close_after and not fx["request"]["body"].get("stream") and not fx.get("stream"):
                    continue
                if secrets:
                    fx = _with_secrets(fx)
                for is_async in (False, True):
                    replay.serve(fx["response"])
                    exporter.clear()
                    call = _gemini if fx["api"] == "generate_content" else _openai_anthropic
                    outcome = call(fx, replay.url, is_async, close_after)
                    provider.force_flush()
                    out[f"{variant} {'async' if is_async else 'sync'} {name}"] = {
                        "outcome": outcome, "spans": _spans(exporter)}
    finally:
        replay.close()
    Path(path).write_text(json.dumps(out, indent=1, sort_keys=True, default=str))
    print(f"{len(out)} calls, {sum(len(v['spans']) for v in out.values())} spans -> {path}")


def diff(a: str, b: str) -> int:
    before, after = json.loads(Path(a).read_text()), json.loads(Path(b).read_text())
    bad = 0
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            bad += 1
            if bad <= 10:
                x, y = before.get(key), after.get(key)
                print(f"DIFF {key}")
                if x and y:
                    for i, (sx, sy) in enumerate(zip(x["spans"], y["spans"])):
                        if sx != sy:
                            for k in sorted(set(sx) | set(sy)):
                                if sx.get(k) != sy.get(k):
                                    print(f"  span {i} {k}: {str(sx.get(k))[:300]}\n    -> {str(sy.get(k))[:300]}")
                    if len(x["spans"]) != len(y["spans"]) or x["outcome"] != y["outcome"]:
                        print(f"  spans {len(x['spans'])} -> {len(y['spans'])}, outcome {x['outcome']} -> {y['outcome']}")
    print(f"{len(before)} calls before, {len(after)} after; {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "dump":
        dump(sys.argv[2])
    elif sys.argv[1] == "diff":
        sys.exit(diff(sys.argv[2], sys.argv[3]))
    else:
        raise SystemExit(__doc__)
