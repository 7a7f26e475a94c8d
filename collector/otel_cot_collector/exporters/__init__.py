"""OTLP exporters: a shared queue-draining retry loop (:mod:`.base`) over gRPC and HTTP transports."""
