"""The HTTP transport is imported in a worker thread soon after start, not on the event loop at the first
provider call (where it froze the loop for 0.4-3 s: no lease renewed, no tool call answered)."""

from __future__ import annotations

import threading

import anyio
import pytest

from server.jobs import manager as manager_module
from server.jobs.manager import JobManager
from server.settings import Settings

pytestmark = pytest.mark.anyio


async def test_the_transport_is_imported_off_the_event_loop_after_start(settings: Settings, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(manager_module, "WARM_UP_AFTER", 0.05)
    monkeypatch.setattr(manager_module, "_import_transport", lambda: calls.append(threading.get_ident()))
    async with JobManager(settings):
        assert calls == []  # not at once: initialize and tools/list come first
        with anyio.fail_after(10):
            while not calls:
                await anyio.sleep(0.01)
    assert calls[0] != threading.get_ident()


def test_the_warm_up_imports_the_transport():
    manager_module._import_transport()  # what the thread runs: importable, never raising
    import sys

    assert "providers.http" in sys.modules and "httpx" in sys.modules
