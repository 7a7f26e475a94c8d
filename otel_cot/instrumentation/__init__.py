"""The instrumentation: wrappers around the provider SDKs that write model-call, reasoning and tool spans,
and the calls into the runtime guard (which decides; the instrumentation writes the decision onto spans).

One folder per provider library (``openai/``, ``anthropic/``, ``google_genai/``, ``mcp/``,
``openai_agents/``), next to what they share: ``_base`` (the instrumentor base class), ``_wrappers``
(the model-method and stream wrappers), ``_model_call`` (the one writer of model-call and reasoning
spans), ``tools`` (tool and agent spans), ``guard_hooks`` / ``tool_check`` (the guard's side) and
``providers`` (the registry, read from the entry points) and ``on_import`` (what switches an instrumentor on when
its library is imported).

Adding a provider is one folder plus one entry point:

1. ``otel_cot/instrumentation/<name>/`` with

   - ``package.py``: ``_instruments = ("<pip requirement>",)`` and ``instrumented_module = "<module>"``
     (the importable module the instrumentor patches, e.g. ``"google.genai"``);
   - ``__init__.py``: a ``CotInstrumentor`` subclass (``_package = _instruments``, ``_targets`` lists
     what to wrap), and the extractors it uses (SDK objects -> ``ModelRequest`` / ``ModelResponse``,
     read with :mod:`otel_cot.values`).

2. In ``pyproject.toml``, ``[project.entry-points.opentelemetry_instrumentor]``:
   ``otel_cot_<name> = "otel_cot.instrumentation.<name>:<Instrumentor>"``, then reinstall
   (``pip install -e .``) so the entry point is in the installed metadata.

``otel_cot.init()`` then instruments it when ``<module>`` is imported (``on_import``; ``init(instrument=["<name>"])``
and ``OTEL_COT_INSTRUMENT`` name it by ``<name>``), ``opentelemetry-instrument`` loads it, and the
test suite's ``instrumentation`` fixture switches it on.
"""
