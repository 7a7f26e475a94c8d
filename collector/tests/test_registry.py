"""The component registry: built-in factories, registering, errors that name the config path, the
processor rules of a pipeline, and a new component added with one registration that runs where the config
lists it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from collector_support import COLLECTOR_DIR
from inprocess_support import EXPORTER, HARMLESS, Harness, config, span_id, trace_request

from otel_cot_collector import otlp
from otel_cot_collector.components import default_registry
from otel_cot_collector.config import ConfigError, parse
from otel_cot_collector.config_parsing import Section, text
from otel_cot_collector.exporters.grpc_exporter import GrpcTransport
from otel_cot_collector.exporters.http_exporter import HttpTransport
from otel_cot_collector.processors.grouping import Group
from otel_cot_collector.registry import ExporterContext, Factory, ProcessorContext, Registry
from otel_cot_collector.telemetry import Metrics


@dataclass
class TagConfig:
    value: str = "tagged"


class Tag:
    """Sets ``tag = <value>`` on every span, or appends to it when already set: the order shows."""

    def __init__(self, cfg: TagConfig) -> None:
        self.value = cfg.value

    def traces(self, groups: list[Group]) -> list[Group]:
        for group in groups:
            for ref in group.spans:
                before = otlp.attributes_of(ref.span.attributes).get("tag")
                otlp.put_attributes(ref.span.attributes, {"tag": f"{before},{self.value}" if before else self.value})
        return groups


def _parse_tag(s: Section, d: TagConfig) -> TagConfig:
    return TagConfig(value=s.get("value", d.value, text))


TAG = Factory(kind="processor", type="tag", config=TagConfig, parse=_parse_tag,
              create=lambda cfg, ctx: Tag(cfg), signals=("traces",))


def with_tag() -> Registry:
    registry = default_registry()
    registry.register(TAG)  # the one line a new component needs
    return registry


def test_the_built_in_components():
    registry = default_registry()
    assert registry.types("receiver") == ["otlp"]
    assert registry.types("processor") == ["group_by_trace", "detect", "monitor", "sampling", "findings_metrics"]
    assert registry.types("processor", "logs") == ["detect"]
    assert registry.types("exporter") == ["otlp_grpc", "otlp_http"]
    assert registry.factory("exporter", "otlp/jaeger").type == "otlp_grpc"
    assert registry.factory("exporter", "otlphttp").type == "otlp_http"
    assert registry.factory("processor", "batch") is None


def test_a_type_or_alias_registers_once():
    registry = default_registry()
    with pytest.raises(ValueError, match="a processor named 'detect' is already registered"):
        registry.register(Factory(kind="processor", type="detect", config=TagConfig, parse=_parse_tag,
                                  create=lambda c, x: None))
    with pytest.raises(ValueError, match="an? exporter named 'otlp' is already registered"):
        registry.register(Factory(kind="exporter", type="mine", aliases=("otlp",), config=TagConfig,
                                  parse=_parse_tag, create=lambda c, x: None))
    registry.register(Factory(kind="receiver", type="detect", config=TagConfig, parse=_parse_tag,
                              create=lambda c, x: None))  # another kind: its own names


def test_a_factory_is_checked_when_declared():
    with pytest.raises(ValueError, match="kind must be one of receiver, processor, exporter"):
        Factory(kind="connector", type="x", config=TagConfig, parse=_parse_tag, create=lambda c, x: None)
    with pytest.raises(ValueError, match="unknown signal 'profiles'"):
        Factory(kind="processor", type="x", config=TagConfig, parse=_parse_tag, create=lambda c, x: None,
                signals=("profiles",))


@pytest.mark.parametrize("kind, section, message", [
    ("receiver", "receivers", r"receivers\.kafka: unknown receiver type 'kafka' \(known: otlp\)"),
    ("processor", "processors",
     r"processors\.kafka: unknown processor type 'kafka' "
     r"\(known: group_by_trace, detect, monitor, sampling, findings_metrics\)"),
    ("exporter", "exporters", r"exporters\.kafka: unknown exporter type 'kafka' \(known: otlp_grpc, otlp_http\)"),
])
def test_an_unknown_type_names_the_known_ones(tmp_path, kind, section, message):
    data = config(str(tmp_path))
    data[section]["kafka"] = {}
    with pytest.raises(ConfigError, match=message):
        parse(data)


def test_unknown_keys_in_a_components_section_are_reported_after_its_parser(tmp_path):
    data = config(str(tmp_path), traces=["group_by_trace", "tag"], processors={"group_by_trace": {},
                                                                                "tag": {"valeu": "x"}})
    with pytest.raises(ConfigError, match=r"processors\.tag\.valeu: unknown key \(allowed here: value\)"):
        parse(data, with_tag())


@pytest.mark.parametrize("traces, message", [
    (["detect", "group_by_trace"], r"service\.pipelines\.traces\.processors: group_by_trace must come first"),
    (["sampling", "detect"], r"service\.pipelines\.traces\.processors: sampling needs detect before it"),
    (["group_by_trace", "findings_metrics"], r"findings_metrics needs detect before it"),
    (["detect", "detect/again"], r"service\.pipelines\.traces\.processors: each processor type may appear once"),
])
def test_the_processor_rules_of_a_pipeline(tmp_path, traces, message):
    processors = {"group_by_trace": {}, "detect": {}, "detect/again": {}, "sampling": {}, "findings_metrics": {}}
    with pytest.raises(ConfigError, match=message):
        parse(config(str(tmp_path), traces=traces, processors=processors))


def test_a_new_processor_applies_only_to_its_signals(tmp_path):
    data = config(str(tmp_path), traces=[], logs=["tag"], processors={"tag": {}})
    with pytest.raises(ConfigError, match=r"logs\.processors: tag does not apply to logs \(allowed: detect\)"):
        parse(data, with_tag())


@pytest.mark.parametrize("order, expected", [(["tag", "tag2"], "a,b"), (["tag2", "tag"], "b,a")])
def test_processors_run_where_the_config_lists_them(tmp_path, order, expected):
    registry = with_tag()
    registry.register(replace(TAG, type="tag2"))
    data = config(str(tmp_path), traces=["group_by_trace", *order],
                  processors={"group_by_trace": {}, "tag": {"value": "a"}, "tag2": {"value": "b"}})
    h = Harness(str(tmp_path / "q"), data, registry)
    try:
        h.add(otlp.TRACES, trace_request((1, 1, HARMLESS)))
        h.pipeline.step(force=True)
        assert otlp.attributes_of(h.spans()[span_id(1)].attributes)["tag"] == expected
    finally:
        h.close()


def test_processors_get_their_context(tmp_path):
    seen: list[ProcessorContext] = []
    registry = default_registry()
    registry.register(Factory(kind="processor", type="probe", config=TagConfig, parse=_parse_tag,
                              create=lambda cfg, ctx: seen.append(ctx) or object(), signals=("traces", "logs")))
    data = config(str(tmp_path), traces=["probe"], logs=["probe"], processors={"probe": {}})
    h = Harness(str(tmp_path / "q"), data, registry)
    try:
        assert [(ctx.name, ctx.signal) for ctx in seen] == [("probe", "traces"), ("probe", "logs")]
        assert seen[0].share("k", lambda: object()) is seen[1].share("k", lambda: object())
        seen[0].emit("logs", b"emitted")
        h.pipeline.tick()
        assert h.outbox(otlp.LOGS) == [b"emitted"]
    finally:
        h.close()


def test_exporter_types_and_aliases_make_their_transport(tmp_path):
    data = config(str(tmp_path))
    data["exporters"] = {"otlp/a": {"endpoint": "127.0.0.1:1", "tls": {"insecure": True}},
                         "otlphttp/b": {"endpoint": "http://127.0.0.1:1"}}
    for pipe in data["service"]["pipelines"].values():
        pipe["exporters"] = ["otlp/a", "otlphttp/b"]
    cfg = parse(data)
    registry = cfg.components()
    made = {name: registry.create("exporter", name, cfg.exporters[name], ExporterContext(name, Metrics()))
            for name in cfg.exporters_in_use()}
    try:
        assert isinstance(made["otlp/a"], GrpcTransport) and isinstance(made["otlphttp/b"], HttpTransport)
    finally:
        for transport in made.values():
            transport.close()


def test_findings_metrics_exporters_are_in_use(tmp_path):
    data = config(str(tmp_path))
    data["exporters"]["otlp_http/metrics"] = {"endpoint": "http://127.0.0.1:1"}
    data["processors"]["findings_metrics"]["exporters"] = ["otlp_http/metrics"]
    cfg = parse(data)
    assert cfg.links == {"findings_metrics": ["otlp_http/metrics"]}
    assert cfg.exporters_in_use() == [EXPORTER, "otlp_http/metrics"]
    data["processors"]["findings_metrics"]["exporters"] = ["otlp_http/nope"]
    with pytest.raises(ConfigError, match=r"processors\.findings_metrics\.exporters: 'otlp_http/nope' is not defined"):
        parse(data)


def _doc_example() -> tuple[str, str]:
    """The python and yaml blocks of docs/collector.md's "Adding a component"."""
    doc = (Path(COLLECTOR_DIR).parent / "docs" / "collector.md").read_text()
    section = doc.split("## Adding a component", 1)[1].split("\n## ", 1)[0]
    return (section.split("```python\n", 1)[1].split("```", 1)[0],
            section.split("```yaml\n", 1)[1].split("```", 1)[0])


def test_the_documented_example_component_works(tmp_path):
    code, snippet = _doc_example()
    module: dict = {}
    exec(compile(code, "docs/collector.md", "exec"), module)
    registry = default_registry()
    registry.register(module["factory"])
    data = config(str(tmp_path))
    documented = yaml.safe_load(snippet)
    data["processors"].update(documented["processors"])
    data["service"]["pipelines"]["traces"]["processors"] = documented["service"]["pipelines"]["traces"]["processors"]
    h = Harness(str(tmp_path / "q"), data, registry)
    try:
        h.add(otlp.TRACES, trace_request((1, 1, HARMLESS)))
        h.pipeline.step(force=True)
        assert otlp.attributes_of(h.spans()[span_id(1)].attributes)["team"] == "payments"
    finally:
        h.close()
