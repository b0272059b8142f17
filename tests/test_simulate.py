"""`mcp-videogen simulate` serves every provider's simulator; the real adapters make videos against it."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import PYTHON, ROOT, subprocess_env

from providers.registry import PROVIDERS
from providers.simulators import SIMULATORS
from providers.simulators.common import free_port
from server.media import probe


@pytest.fixture(scope="module")
def simulate() -> Iterator[tuple[str, dict[str, str]]]:
    """The simulate command as a process; yields its URL and the environment it printed."""
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "server", "simulate", "--port", str(port), "--speed", "300"],
        env=subprocess_env({}),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "simulate did not start"
                time.sleep(0.05)
        printed: dict[str, str] = {}
        while len(printed) < len(SIMULATORS) + 6:  # a base URL each, and the six credential variables
            line = process.stderr.readline()
            if match := re.match(r"export (\w+)=(\S+)", line):
                printed[match[1]] = match[2]
        yield f"http://127.0.0.1:{port}", printed
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_it_serves_every_simulator_and_prints_a_working_environment(simulate):
    url, printed = simulate
    index = httpx.get(url).json()
    assert (
        set(index["simulators"])
        == set(SIMULATORS)
        == set(PROVIDERS) - {"demo"}  # every provider that calls an API, each in the one process
    )
    assert index["speed"] == 300
    assert {printed[f"VIDEOGEN_{name.upper()}_BASE_URL"] for name in SIMULATORS} == {
        f"{url}/{name}" for name in SIMULATORS
    }


@pytest.mark.parametrize("provider", ["runway", "fal", "kling", "runblob", "wireflow"])
def test_the_cli_makes_a_video_through_each_simulator(simulate, env: dict[str, str], provider: str):
    url, printed = simulate
    before = httpx.get(f"{url}/{provider}/_sim/stats").json()["submissions"]
    done = subprocess.run(
        [PYTHON, "-m", "server", "generate", "a lighthouse in a storm", "--provider", provider, "--json"],
        env=subprocess_env({**env, **printed, "VIDEOGEN_POLL_SCALE": "0.01"}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["provider"] == provider
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - job["request"]["duration"]) < 0.2
    assert httpx.get(f"{url}/{provider}/_sim/stats").json()["submissions"] == before + 1
