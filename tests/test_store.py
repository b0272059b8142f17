"""The job index: schema versions, leases between processes, idempotency keys. The store tests run on both
backends (SQLite and PostgreSQL, see the `backend` fixture); tests/test_store_postgres.py has PostgreSQL's own."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.store import MIGRATIONS, JobRow, JobStore, new_owner_id, owner_is_dead


def row(job_id: str, key: str | None = None, status: str = "pending") -> JobRow:
    now = time.time()
    return JobRow(
        job_id=job_id,
        status=status,
        provider="demo",
        model="demo-v1",
        request={"prompt": "p"},
        created_at=now,
        updated_at=now,
        idempotency_key=key,
    )


@pytest.fixture
def store(backend) -> JobStore:
    return backend.open()


def test_schema_is_versioned_and_in_wal_mode(tmp_path: Path):
    JobStore(tmp_path / "index.sqlite3")
    with sqlite3.connect(tmp_path / "index.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    JobStore(tmp_path / "index.sqlite3")  # opening again migrates nothing and loses nothing


def test_an_index_from_a_newer_version_is_refused(tmp_path: Path):
    path = tmp_path / "index.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer mcp-videogen"):
        JobStore(path)


def test_rows_round_trip_with_json_columns(store: JobStore):
    store.insert(row("job_a"))
    assert store.update("job_a", None, status="succeeded", video={"path": "/v.mp4"}, progress=1.0)
    got = store.get("job_a")
    assert got and got.status == "succeeded" and got.video == {"path": "/v.mp4"} and got.terminal
    assert store.get("job_missing") is None


def test_idempotency_key_returns_the_first_job(store: JobStore):
    first = store.insert(row("job_a", key="k1"))
    again = store.insert(row("job_b", key="k1"))
    assert again.job_id == first.job_id == "job_a" and store.get("job_b") is None
    assert store.by_idempotency_key("k1").job_id == "job_a"


def test_a_lease_keeps_other_owners_out_until_it_expires(store: JobStore):
    store.insert(row("job_a"))
    alice, bob = "elsewhere:1:a", "elsewhere:2:b"  # another host: liveness cannot be checked, only expiry
    assert store.claim("job_a", alice, 0.3)
    assert not store.claim("job_a", bob, 10)
    assert store.update("job_a", alice, message="alice was here")
    assert not store.update("job_a", bob, message="bob was here")  # writes need the lease
    assert store.orphans(bob) == []
    time.sleep(0.35)
    assert store.orphans(bob) == ["job_a"]
    assert store.claim("job_a", bob, 10)
    assert not store.update("job_a", alice, message="too late")
    assert store.get("job_a").message == "alice was here"


def test_renew_and_release(store: JobStore):
    store.insert(row("job_a"))
    store.insert(row("job_b"))
    owner = "elsewhere:1:a"
    assert store.claim("job_a", owner, 0.2) and store.claim("job_b", owner, 0.2)
    assert store.renew(owner, 30) == 2
    time.sleep(0.25)
    assert store.orphans("someone") == []  # renewed: still held
    store.release(owner, "job_a")
    assert store.orphans("someone") == ["job_a"]
    store.release(owner)
    assert store.orphans("someone") == ["job_a", "job_b"]


def test_a_late_submit_answer_keeps_the_providers_id_once_and_says_so_on_a_failed_job(store: JobStore):
    store.insert(row("job_a"))
    store.insert(row("job_b"))
    unconfirmed = {"code": "SUBMIT_UNCONFIRMED", "message": "probably not created", "retryable": False}
    assert store.update("job_a", None, status="failed", error=unconfirmed, finished_at=time.time())
    assert store.keep_late_submission("job_a", "task_1", {"n": 1}, "created after all: task_1")
    kept = store.get("job_a")
    assert (kept.status, kept.provider_ref, kept.provider_state) == ("failed", "task_1", {"n": 1})
    assert kept.error == {"code": "SUBMIT_UNCONFIRMED", "message": "created after all: task_1", "retryable": False}
    assert not store.keep_late_submission("job_a", "task_2", {}, "again")  # an id is never replaced
    assert store.get("job_a").provider_ref == "task_1"
    assert store.keep_late_submission("job_b", "task_3", {}, "late")  # a job still running keeps its error: none
    assert store.get("job_b").error is None and store.get("job_b").provider_ref == "task_3"


def test_a_late_answer_raises_the_jobs_estimate_to_the_most_the_provider_said_in_the_same_write(store: JobStore):
    store.insert(dataclasses.replace(row("job_a"), cost_estimate=0.24))
    store.insert(dataclasses.replace(row("job_b"), cost_estimate=0.50))
    assert store.keep_late_submission("job_a", "task_1", {}, "late", cost_at_least=0.36)
    assert store.keep_late_submission("job_b", "task_2", {}, "late", cost_at_least=0.36)
    assert store.get("job_a").cost_estimate == 0.36 and store.get("job_b").cost_estimate == 0.50  # never lowered


def test_finished_jobs_are_never_claimed(store: JobStore):
    store.insert(row("job_a", status="succeeded"))
    assert not store.claim("job_a", new_owner_id(), 10)
    assert store.orphans("x") == []


def test_a_dead_local_holder_is_recognised_at_once(store: JobStore):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{new_owner_id().split(':')[0]}:{child.pid}:deadbeef"
    assert owner_is_dead(dead)
    assert not owner_is_dead(new_owner_id())  # this very process
    assert not owner_is_dead("another-host:1:x")  # cannot tell: wait for expiry
    store.insert(row("job_a"))
    assert store.claim("job_a", dead, 3600)
    assert store.orphans("me") == ["job_a"] and store.claim("job_a", "me:0:x", 10)


# -- through the engine ------------------------------------------------------------------------------

FAST = {"resolution": "360p", "duration": 1}


@pytest.mark.anyio
async def test_an_idempotency_key_reused_for_another_request_is_refused(settings):
    from providers.base import ErrorCode, ProviderError
    from server.catalog import RequestArgs
    from server.jobs import JobManager

    async with JobManager(settings) as manager:
        first = await manager.submit(RequestArgs(prompt="a red fox", **FAST), idempotency_key="order-7")
        again = await manager.submit(RequestArgs(prompt="  a red fox ", **FAST), idempotency_key="order-7")
        assert again.job_id == first.job_id  # the same request (once normalized): the same job
        with pytest.raises(ProviderError) as refused:
            await manager.submit(RequestArgs(prompt="a blue fox", **FAST), idempotency_key="order-7")
        assert refused.value.code == ErrorCode.INVALID_INPUT
        assert "order-7" in refused.value.message and "different request" in refused.value.message
        assert "new key" in refused.value.message and first.job_id in refused.value.message
        with pytest.raises(ProviderError, match="different request"):  # any other field counts too
            await manager.submit(RequestArgs(prompt="a red fox", model="demo-v1", seed=3, **FAST), "order-7")
        assert len(manager.db.list()) == 1
        await manager.wait(first.job_id, 20)


@pytest.mark.anyio
async def test_stored_input_images_are_deleted_when_the_job_ends(settings, tmp_path: Path):
    import base64
    import io

    from PIL import Image

    from server.catalog import RequestArgs
    from server.jobs import JobManager

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 220)).save(buffer, format="PNG")
    data_uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    inputs = settings.data_dir / "inputs"
    async with JobManager(settings) as manager:
        done = await manager.submit(RequestArgs(prompt="blue", images=[data_uri], **FAST))
        kept = Path(done.request["images"][0])
        assert kept.parent == inputs and kept.is_file()  # kept while the job may need it (even after a restart)
        cancelled = await manager.submit(RequestArgs(prompt="blue again", images=[data_uri], **FAST))
        cancelled = await manager.cancel(cancelled.job_id)
        done = await manager.wait(done.job_id, 20)
    assert done.status == "succeeded" and cancelled.status == "cancelled"
    assert list(inputs.iterdir()) == []


def test_a_cancel_request_does_not_reach_a_job_whose_video_is_downloading(store: JobStore):
    """The video is finished and paid for: a cancel request then would only cut its download's waits short."""
    store.insert(row("job_a", status="downloading"))
    store.insert(row("job_b", status="running"))
    store.request_cancel("job_a")
    store.request_cancel("job_b")
    assert not store.get("job_a").cancel_requested and store.get("job_b").cancel_requested
