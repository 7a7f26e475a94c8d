"""Receivers, one module per type (``otlp``: gRPC and HTTP front ends over one admission path, :mod:`otel_cot_collector.ingest`)."""
