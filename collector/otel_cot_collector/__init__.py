"""otel-cot collector: OTLP receivers → detector processors → durable queue → OTLP exporters."""

__version__ = "0.1.0"
