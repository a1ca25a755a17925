"""`dockyard serve` as a newcomer meets it (issue 9, items 10, 12 and 14): a port in use, when
"serving on" is printed, what reaches the terminal, the access log and X-Request-Id."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.conftest import DockyardServer, free_port

T = TypeVar("T")
DOCKYARD = str(Path(sys.executable).parent / "dockyard")
PLAIN_LINE = re.compile(
    r"^\S+Z (?P<client>\S+) (?P<user>\S+) (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<bytes>\d+)B "
    r"(?P<ms>[\d.]+)ms (?P<route>\S+) (?P<id>[0-9a-f]{16})$"
)


def serve(data_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [DOCKYARD, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        process_group=0,
    )


def access_lines(server: DockyardServer) -> list[str]:
    return [line for line in server.log_path.read_text().splitlines() if PLAIN_LINE.match(line)]


def test_a_second_server_on_a_port_in_use_fails_at_once_with_one_line(tmp_path: Path) -> None:
    """Two servers with different data must never share a port (SO_REUSEPORT): the second fails."""
    with DockyardServer(tmp_path / "first") as first:
        second = serve(tmp_path / "second", first.port)
        try:
            output, _ = second.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, 9)
            second.communicate()
            pytest.fail("the second `dockyard serve` kept running on a port in use")
        assert second.returncode != 0
        assert output.strip().splitlines() == [
            f"Error: cannot listen on 127.0.0.1:{first.port}: address already in use"
        ]
        assert not (tmp_path / "second").exists()  # it touched nothing
        for _ in range(8):  # every request reaches the first server
            assert httpx.get(f"{first.url}/v2/", timeout=10).status_code == 401


def test_serving_on_is_printed_once_the_server_answers_and_granian_stays_quiet(tmp_path: Path) -> None:
    port = free_port()
    process = serve(tmp_path / "data", port)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Dockyard serving on"):
                # at once: no retry, a short timeout; the server must already answer
                response = httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=2)
                assert response.status_code == 401
                break
        else:
            pytest.fail(f"no 'serving on' line:\n{lines}")
        assert lines[-1] == f"Dockyard serving on http://127.0.0.1:{port} (data in {tmp_path / 'data'})"
    finally:
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    output = "\n".join(lines) + rest
    assert process.returncode == 0, output
    assert output.count("Dockyard serving on") == 1
    assert "experimental" not in output.lower() and "granian" not in output.lower(), output
    assert output.rstrip().endswith("Dockyard stopped."), output


@pytest.mark.parametrize("server_kind", ["granian", "uvicorn"])
def test_the_server_records_its_address_for_the_cli_and_removes_it_at_stop(
    tmp_path: Path, server_kind: str
) -> None:
    with DockyardServer(tmp_path / "data", env={"DOCKYARD_SERVER": server_kind}) as server:
        record = _wait_for(lambda: _read(tmp_path / "data" / "server.json"))
        assert record["url"] == server.url and record["listen"] == server.host
    assert not (tmp_path / "data" / "server.json").exists()


def test_access_log_and_request_ids(tmp_path: Path) -> None:
    with DockyardServer(tmp_path / "data") as server:
        response = httpx.get(f"{server.url}/v2/?n=1", timeout=10)
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", request_id)
        other = httpx.get(f"{server.url}/explore", timeout=10)
        assert other.headers["x-request-id"] != request_id
        line = _wait_for(lambda: next((x for x in access_lines(server) if x.endswith(request_id)), None))
        found = PLAIN_LINE.match(line)
        assert found is not None
        assert found["client"] == "127.0.0.1" and found["method"] == "GET" and found["path"] == "/v2/"
        assert found["status"] == "401" and int(found["bytes"]) == len(response.content)


def test_access_log_as_json_and_off(tmp_path: Path) -> None:
    with DockyardServer(tmp_path / "json", env={"DOCKYARD_ACCESS_LOG": "json"}) as server:
        response = httpx.get(f"{server.url}/v2/_catalog", timeout=10)

        def logged() -> dict[str, object] | None:
            for line in server.log_path.read_text().splitlines():
                if line.startswith("{") and response.headers["x-request-id"] in line:
                    found: dict[str, object] = json.loads(line)
                    return found
            return None

        entry = _wait_for(logged)
        assert entry["path"] == "/v2/_catalog" and entry["status"] == 401 and entry["method"] == "GET"
        assert set(entry) == {
            "time", "client", "user", "method", "path", "status", "bytes", "duration_ms", "route",
            "request_id",
        }  # fmt: skip
    with DockyardServer(tmp_path / "off", env={"DOCKYARD_ACCESS_LOG": "off"}) as server:
        response = httpx.get(f"{server.url}/v2/", timeout=10)
        assert response.headers["x-request-id"]
        time.sleep(0.5)
        assert response.headers["x-request-id"] not in server.log_path.read_text()


def _read(path: Path) -> dict[str, str] | None:
    try:
        found: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found


def _wait_for(probe: Callable[[], T | None], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")
