"""Helpers for ``bench/run.py``: servers, a lean HTTP client, workloads, process sampling, reports.

Nothing here is imported by Dockyard or its tests; the benchmark is run by hand, never by CI.
"""
