"""Processors, one module per type: ``group_by_trace`` (:mod:`.grouping`), ``detect`` (spans and log
records), ``sampling``, ``findings_metrics``."""
