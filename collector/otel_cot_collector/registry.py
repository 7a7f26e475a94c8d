"""The component registry, shaped like the OpenTelemetry Collector's: every receiver, processor and exporter
type is a :class:`Factory` (its type name, default config, config parser, the signals it applies to, what
must come before it, and how to create it), and :mod:`.components` lists the factories this collector is
built with, one line each. The config reader (:mod:`.config`), the pipeline (:mod:`.pipeline`) and the
service (:mod:`.service`) know components only through their factories.

What ``create(config, context)`` returns, by kind:

- **receiver** (context :class:`ReceiverContext`): an object with ``async start()`` and
  ``async stop(grace)``; it hands every request to ``context.ingest``, which queues it durably before
  the receiver acknowledges it.
- **processor** (context :class:`ProcessorContext`): an object with any of these entry points, all
  called on the pipeline thread:

  - ``traces(groups: list[Group]) -> list[Group]``: the traces that left ``group_by_trace`` (the stage
    that decides when a trace is flushed, always first), in the order the pipeline lists its
    processors. Return the groups to pass on (drop one to drop its trace); add spans to
    ``group.added``; read and set ``group.findings`` and ``group.flagged``.
  - ``logs(request)`` (``metrics(request)``): the parsed ``Export*ServiceRequest`` of one queued
    request; change it in place and return something true when you did (it is then re-encoded).
  - ``tick(force: bool)``: called after every round (``force`` at shutdown) for timed work; send data
    with ``context.emit``.
- **exporter** (context :class:`ExporterContext`): a :class:`~.exporters.base.Transport` (``send`` one
  serialized request, ``close``). The service drains the exporter's outbox rows through it with retries
  and backoff; so its config has the ``max_batch_bytes`` and ``retry`` of
  :class:`~.exporters.base.SendingConfig` (parse them with :func:`~.exporters.base.parse_sending`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .config_parsing import SIGNALS, ConfigError, Section, component_type

if TYPE_CHECKING:
    from otel_cot.detectors import Finding

    from .ingest import Ingest
    from .telemetry import Metrics

KINDS = ("receiver", "processor", "exporter")
SPAN_WRITES = ("any", "clears", "none")  # Factory.span_writes


@dataclass(frozen=True)
class Factory:
    """One component type.

    - ``kind``: ``receiver``, ``processor`` or ``exporter``; ``type``: the name before ``/`` in a
      component id (``otlp_grpc`` in ``otlp_grpc/jaeger``); ``aliases``: other names for the type.
    - ``config()``: the default config, a dataclass whose field defaults are the documented defaults.
    - ``parse(section, default)``: reads the component's :class:`~.config_parsing.Section` into a config (start
      from ``default``); raise :class:`~.config_parsing.ConfigError` naming ``section.sub(key)``. Keys it did not
      read are reported as unknown afterwards.
    - ``create(config, context)``: the component (see the module docstring for what each kind returns).
    - ``signals``: the pipelines it may be listed in.
    - processors only: ``needs``, types that must come earlier in the same pipeline; ``first``, it must
      be the first processor of its pipeline; ``span_writes``, what it does to the spans of the trace
      groups it is handed (a span keeps the bytes it arrived in, ``SpanRef.wire``, and is exported in them
      while that is set): ``"any"`` (the default) it may change any of them, so the pipeline clears
      ``wire`` on every span before handing them over; ``"clears"`` it changes some and sets ``wire`` to
      None on each one it changes, before changing it; ``"none"`` it changes none.
    - ``resolve(config, whole, path)``: checks that need the whole config (references to other
      components; run at load, so ``--validate`` catches them) and returns the exporters the component
      writes to besides its pipeline's.
    - receivers: ``listens(config)``, the addresses it will listen on as ``(key, host, port)`` (``key``
      under the component's section), checked before anything starts (:mod:`.preflight`).
    - ``check(config, path)``: what would stop the component from starting that parsing does not see (a
      file it will load that does not load): problems, each naming its key under ``path``. Run before
      anything starts and by ``--validate``.
    """

    kind: str
    type: str
    config: Callable[[], Any]
    parse: Callable[[Section, Any], Any]
    create: Callable[[Any, Any], Any]
    signals: tuple[str, ...] = SIGNALS
    needs: tuple[str, ...] = ()
    first: bool = False
    span_writes: str = "any"
    aliases: tuple[str, ...] = ()
    resolve: Callable[[Any, Any, str], Sequence[str]] | None = None  # (config, the whole Config, path)
    listens: Callable[[Any], Sequence[tuple[str, str, int]]] | None = None
    check: Callable[[Any, str], Iterable[str]] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"factory {self.type!r}: kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        unknown = [s for s in self.signals if s not in SIGNALS]
        if unknown:
            raise ValueError(f"factory {self.type!r}: unknown signal {unknown[0]!r} (known: {', '.join(SIGNALS)})")
        if self.span_writes not in SPAN_WRITES:
            raise ValueError(f"factory {self.type!r}: span_writes must be one of {', '.join(SPAN_WRITES)}, "
                             f"not {self.span_writes!r}")


class Registry:
    """The factories by kind and type name (aliases included)."""

    def __init__(self, factories: Iterable[Factory] = ()) -> None:
        self._factories: list[Factory] = []
        self._by_name: dict[tuple[str, str], Factory] = {}
        for factory in factories:
            self.register(factory)

    def register(self, factory: Factory) -> None:
        for name in (factory.type, *factory.aliases):
            if (factory.kind, name) in self._by_name:
                raise ValueError(f"a {factory.kind} named {name!r} is already registered")
        self._factories.append(factory)
        for name in (factory.type, *factory.aliases):
            self._by_name[(factory.kind, name)] = factory

    def copy(self) -> "Registry":
        return Registry(self._factories)

    def factory(self, kind: str, name: str) -> Factory | None:
        """The factory of component id ``name`` (``type`` or ``type/name``), or None."""
        return self._by_name.get((kind, component_type(name)))

    def types(self, kind: str, signal: str | None = None) -> list[str]:
        """The registered type names of ``kind`` (applying to ``signal``), in registration order."""
        return [f.type for f in self._factories if f.kind == kind and (signal is None or signal in f.signals)]

    def parse(self, kind: str, name: str, data: Any, path: str) -> Any:
        """The config of component ``name`` from its YAML ``data`` at ``path``."""
        factory = self.factory(kind, name)
        if factory is None:
            known = ", ".join(self.types(kind)) or "none"
            raise ConfigError(f"{path}: unknown {kind} type {component_type(name)!r} (known: {known})")
        section = Section(data, path)
        config = factory.parse(section, factory.config())
        section.done()
        return config

    def create(self, kind: str, name: str, config: Any, context: Any) -> Any:
        """Component ``name`` of ``kind``, made by its factory from its parsed ``config``."""
        factory = self.factory(kind, name)
        if factory is None:
            raise ValueError(f"no {kind} factory for {name!r} in this registry")
        return factory.create(config, context)

    def check_processors(self, signal: str, names: Sequence[str], path: str) -> None:
        """The rules of one pipeline's processor list: each type once, every type applies to ``signal``,
        a ``first`` type comes first, every type's ``needs`` come earlier."""
        kinds = [component_type(n) for n in names]
        if len(set(kinds)) != len(kinds):
            raise ConfigError(f"{path}: each processor type may appear once")
        for index, name in enumerate(names):
            factory = self.factory("processor", name)
            assert factory is not None  # every listed name was parsed
            if signal not in factory.signals:
                allowed = ", ".join(self.types("processor", signal)) or "none"
                raise ConfigError(f"{path}: {factory.type} does not apply to {signal} (allowed: {allowed})")
            if factory.first and index:
                raise ConfigError(f"{path}: {factory.type} must come first (it groups spans into traces "
                                  f"for the processors after it)")
            for need in factory.needs:
                if need not in kinds[:index]:
                    raise ConfigError(f"{path}: {factory.type} needs {need} before it")


Emit = Callable[..., None]


class FindingsFeed:
    """Findings written by processors, as ``(finding, service.name)`` pairs, for the ones that count or
    forward them (the pipeline's self-metric, ``findings_metrics``)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[Sequence[tuple[Finding, str]]], None]] = []

    def subscribe(self, listener: Callable[[Sequence[tuple[Finding, str]]], None]) -> None:
        self._listeners.append(listener)

    def publish(self, found: Sequence[tuple[Finding, str]]) -> None:
        if found:
            for listener in self._listeners:
                listener(found)


@dataclass
class ReceiverContext:
    name: str  # the component id
    ingest: Ingest  # the admission path: validates, queues durably, then answers
    metrics: Metrics


@dataclass
class ProcessorContext:
    """What a processor gets besides its config.

    ``emit(signal, data, exporters=None)`` queues one serialized ``Export*ServiceRequest`` for the
    exporters of ``signal``'s pipeline (or the named ``exporters``): emitted while the pipeline handles
    queued data, in the same transaction as that data's outbox rows; emitted from ``tick``, right after.
    Call it on the pipeline thread (from an entry point or ``tick``), not from a thread of your own.
    ``share(key, build)`` returns the object the first caller built under ``key``, so components of both
    pipelines can share one (the detector engine)."""

    name: str  # the component id
    signal: str  # the pipeline it runs in
    config: Any  # the whole config.Config
    metrics: Metrics
    findings: FindingsFeed
    emit: Emit
    shared: dict[str, Any] = field(default_factory=dict)

    def share(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]


@dataclass
class ExporterContext:
    name: str  # the component id
    metrics: Metrics
