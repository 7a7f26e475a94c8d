"""otlp.attributes_of (the per-span read path) gives what the generic value_of gives, for every kind."""

from __future__ import annotations

import random

from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from otel_cot_collector import otlp


def _random_value(kv: KeyValue, rnd: random.Random, depth: int = 0) -> None:
    kind = rnd.choice(["string", "empty", "int", "zero", "bool", "false", "double", "array", "kvlist", "unset"])
    v = kv.value
    if kind == "string":
        v.string_value = rnd.choice(["x", "bash", "é", "0", "False"])
    elif kind == "empty":
        v.string_value = ""
    elif kind in ("int", "zero"):
        v.int_value = 0 if kind == "zero" else rnd.randint(-5, 5) or 1
    elif kind in ("bool", "false"):
        v.bool_value = kind == "bool"
    elif kind == "double":
        v.double_value = rnd.choice([0.0, 1.5])
    elif kind == "array" and depth < 2:
        for _ in range(rnd.randint(0, 3)):
            _random_value(KeyValue(), rnd, depth + 1)
            v.array_value.values.add().string_value = "a"
    elif kind == "kvlist" and depth < 2:
        inner = v.kvlist_value.values.add(key="k")
        _random_value(inner, rnd, depth + 1)


def test_attributes_of_matches_value_of_for_every_kind():
    rnd = random.Random(4)
    for _ in range(2000):
        kvs = [KeyValue(key=f"k{i}") for i in range(rnd.randint(0, 6))]
        for kv in kvs:
            _random_value(kv, rnd)
        got = otlp.attributes_of(kvs)
        want = {kv.key: otlp.value_of(kv.value) for kv in kvs}
        assert got == want and [type(v) for v in got.values()] == [type(v) for v in want.values()]
