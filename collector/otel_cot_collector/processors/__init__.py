"""Processors: trace grouping, detection (spans and log records), sampling, findings as metrics."""
