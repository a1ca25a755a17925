"""The one failure the benchmark raises: a workload that did not do what it claims.

A broken server must never produce a fast number, so every workload checks status codes,
sizes and digests and raises ``WorkloadFailed`` (with the request and response) otherwise.
"""

from __future__ import annotations


class WorkloadFailed(RuntimeError):
    def __init__(self, server: str, what: str, detail: str) -> None:
        super().__init__(f"[{server}] {what} failed:\n{detail}")
        self.server = server
        self.what = what
        self.detail = detail
