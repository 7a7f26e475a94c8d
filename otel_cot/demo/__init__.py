"""``otel-cot demo``: a scripted coding-agent session whose spans go through the detectors into Jaeger.

- ``command``: the ``otel-cot demo`` subcommand (its options and the run from start to the flagged trace's URL).
- ``session``: the scripted session (recorded responses in ``data/``, a loopback replay server, simulated tools).
- ``stack``: the local programs as child processes (Jaeger v2, the otel-cot collector) and Jaeger's query API.

The demo starts the otel-cot collector as a process and talks to it only over OTLP and its HTTP ops
endpoints: the library does not import the collector.
"""
