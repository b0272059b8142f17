"""Shared fixtures: an isolated environment per test (its own index and output folder) with short timings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Environment variables for a server under test: fast demo jobs, fast heartbeats, no real keys."""
    values = {
        "VIDEOGEN_DATA_DIR": str(tmp_path / "data"),
        "VIDEOGEN_OUTPUT_DIR": str(tmp_path / "videos"),
        "VIDEOGEN_ALLOWED_DIRS": str(tmp_path / "inputs"),
        "VIDEOGEN_DEMO_LATENCY": "0.6",
        "VIDEOGEN_HEARTBEAT_SECONDS": "0.2",
        "VIDEOGEN_LEASE_SECONDS": "3",
        "VIDEOGEN_WAIT_SECONDS": "20",
        "VIDEOGEN_RETRY_SCALE": "0.02",
        # Tests compress the providers' clocks (VIDEOGEN_POLL_SCALE), which would make the stuck-job limit
        # a few real seconds on a busy machine; tests of that limit set their own.
        "VIDEOGEN_STUCK_SECONDS": "1000000",
    }
    (tmp_path / "inputs").mkdir()
    return values


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """The test's settings on top of a clean copy of this process's environment (no provider keys)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIDEOGEN_", "RUNWAYML", "FAL_", "KLING_", "RUNBLOB", "WIREFLOW"))
    }
    base["PYTHONPATH"] = str(ROOT)
    return {**base, **env}


PYTHON = sys.executable
