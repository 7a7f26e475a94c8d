"""Exporters, one module per type (``otlp_grpc``, ``otlp_http``): transports under a shared queue-draining
retry loop (:mod:`.base`)."""
