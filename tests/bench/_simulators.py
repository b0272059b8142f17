"""The simulators in their own process for the benchmarks, so that the CPU a bench counts is its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def simulators(speed: float = 1.0) -> Iterator[tuple[str, int]]:
    """`python -m server simulate` on a free port: yields (its base URL, its pid) once it accepts connections."""
    sys.path.insert(0, str(ROOT))
    from providers.simulators.common import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "simulate", "--port", str(port), "--speed", str(speed)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait()
