"""OTLP receivers: gRPC and HTTP front ends over one admission path (:mod:`.ingest`)."""
