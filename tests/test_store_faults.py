"""Local storage failing under a running server: the job index locked by another process or on a full disk, an
unusable index file, an output folder that is deleted or cannot take the video.

The server stays up, says what is wrong (naming the file and what to do), other jobs go on, and the affected
job recovers once the storage works again.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import anyio
import pytest
from mcp import Client

from server import jobs
from server.app import build_server
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.media import verify
from server.settings import Settings
from server.store import StoreError

pytestmark = pytest.mark.anyio
FAST = {"resolution": "360p", "duration": 1}


def fast_store(env: dict[str, str], **extra: str) -> Settings:
    # Writes give up on a locked index after 0.2 s (default 10 s), so the test holds the lock far longer.
    return Settings.from_env({**env, "VIDEOGEN_STORE_BUSY_SECONDS": "0.2", "VIDEOGEN_DEMO_LATENCY": "1", **extra})


async def test_a_locked_index_fails_tool_calls_clearly_and_the_server_recovers(env):
    settings = fast_store(env, VIDEOGEN_LEASE_SECONDS="0.9")  # housekeeping every 0.3 s: it runs into the lock
    async with Client(build_server(settings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "before the lock", "wait_seconds": 0, **FAST})
        job_id = started.structured_content["job_id"]
        # Another process holds the index's write lock for far longer than the busy timeout, while the job runs
        # and finishes at the provider.
        other = sqlite3.connect(settings.index_path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            refused = await client.call_tool("generate_video", {"prompt": "during the lock", **FAST})
            assert refused.is_error  # an error for this call only; the server goes on
            text = refused.content[0].text
            assert str(settings.index_path) in text and "database is locked" in text, text
            await anyio.sleep(2.0)  # the job's writes and the housekeeping meet the lock meanwhile
        finally:
            other.execute("COMMIT")
            other.close()
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
        assert done.structured_content["status"] == "succeeded", done.content
        after = await client.call_tool("generate_video", {"prompt": "after the lock", **FAST})
        assert after.structured_content["status"] == "succeeded", after.content
    verify(Path(done.structured_content["video"]["path"]))


async def test_a_locked_index_is_named_with_its_cause_and_what_to_do(env):
    settings = fast_store(env)
    async with JobManager(settings) as manager:
        other = sqlite3.connect(settings.index_path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreError) as refused:
                await manager.submit(RequestArgs(prompt="during the lock", **FAST))
        finally:
            other.execute("COMMIT")
            other.close()
        row = await manager.submit(RequestArgs(prompt="after the lock", **FAST))
        assert (await manager.wait(row.job_id, 20)).status == "succeeded"
    text = str(refused.value)
    assert str(settings.index_path) in text and "database is locked" in text and "another process" in text
    assert "\n" not in text


class FullDisk:
    """The index's own SQLite connection, refusing every write while `full` is set, as SQLite does when the
    disk is full (a failed COMMIT leaves the transaction open, as it may in SQLite)."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "COMMIT")

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.full = False
        self.refused = 0

    def execute(self, sql: str, params=()):
        if self.full and sql.lstrip().split()[0].upper() in self.WRITES:
            self.refused += 1
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, params)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


async def test_a_full_disk_under_the_index_stops_no_job_and_jobs_finish_once_there_is_room(env):
    settings = fast_store(env, VIDEOGEN_LEASE_SECONDS="0.9")
    async with JobManager(settings) as manager:
        disk = FullDisk(manager.db.db)
        manager.db.db = disk
        first = await manager.submit(RequestArgs(prompt="one", **FAST))
        second = await manager.submit(RequestArgs(prompt="two", **FAST))
        disk.full = True
        with pytest.raises(StoreError) as refused:
            await manager.submit(RequestArgs(prompt="three", **FAST))
        message = str(refused.value)
        assert str(settings.index_path) in message and "disk is full" in message and "free disk space" in message
        await anyio.sleep(2.0)  # both jobs finish at the provider; every write about them is refused
        assert disk.refused > 3
        assert manager.get(first.job_id).status != "succeeded"
        disk.full = False
        rows = [await manager.wait(r.job_id, 20) for r in (first, second)]
        third = await manager.submit(RequestArgs(prompt="three", **FAST))
        rows.append(await manager.wait(third.job_id, 20))
    assert [r.status for r in rows] == ["succeeded"] * 3, [r.message for r in rows]
    for r in rows:
        verify(Path(r.video["path"]))


def test_an_unusable_index_is_one_line_with_the_path_and_what_to_do(tmp_path: Path):
    from server.store import JobStore

    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not an index at all" * 100)
    with pytest.raises(StoreError) as error:
        JobStore(corrupt)
    text = str(error.value)
    assert isinstance(error.value, RuntimeError) and "\n" not in text
    assert str(corrupt) in text and "not a database" in text and "move the file aside" in text

    folder = tmp_path / "a-folder.sqlite3"  # not a file SQLite can open (as a read-only place would be)
    folder.mkdir()
    with pytest.raises(StoreError) as error:
        JobStore(folder)
    text = str(error.value)
    assert str(folder) in text and "VIDEOGEN_DATA_DIR" in text and "\n" not in text


# -- the output folder ------------------------------------------------------------------------------


def block_folder(folder: Path) -> None:
    """Put a file where the output folder was: nothing can be written there (even as root), like a full or
    read-only disk."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("in the way")


async def test_an_unwritable_output_folder_is_reported_and_the_job_delivers_once_it_is_fixed(env):
    settings = Settings.from_env({**env, "VIDEOGEN_POLL_SCALE": "0.01"})  # storage retries: 9 s at most
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="patient", **FAST))
        block_folder(settings.output_dir)
        messages: list[str] = []

        async def seen(r) -> None:
            messages.append(r.message)

        with anyio.fail_after(20):
            while not any(str(settings.output_dir) in m for m in messages):
                await manager.wait(row.job_id, 0.2, seen)
        assert manager.get(row.job_id).status == "downloading"
        settings.output_dir.unlink()  # fixed: the folder is recreated by the next attempt
        done = await manager.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    verify(Path(done.video["path"]))


async def test_an_output_folder_that_stays_unwritable_fails_the_job_retryable_and_later_jobs_work(env, monkeypatch):
    monkeypatch.setattr(jobs, "STORAGE_RETRY_SECONDS", 100)  # 1 s at this poll scale
    settings = Settings.from_env({**env, "VIDEOGEN_POLL_SCALE": "0.01"})
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="unlucky", **FAST))
        block_folder(settings.output_dir)
        failed = await manager.wait(row.job_id, 20)
        assert failed.status == "failed" and failed.error["code"] == "DOWNLOAD_FAILED", failed.error
        assert failed.error["retryable"] is True and str(settings.output_dir) in failed.error["message"]
        settings.output_dir.unlink()  # someone deleted the folder's blocker; the folder itself is gone too
        later = await manager.submit(RequestArgs(prompt="later", **FAST))
        done = await manager.wait(later.job_id, 20)
    assert done.status == "succeeded", done.error
    verify(Path(done.video["path"]))


async def test_a_thumbnail_that_cannot_be_written_leaves_the_video_delivered(env):
    from datetime import datetime, timezone

    from server.media import video_filename

    settings = Settings.from_env(env)
    async with JobManager(settings) as manager:
        row = await manager.submit(RequestArgs(prompt="no picture", **FAST))
        # A folder (not empty) where the thumbnail goes: writing it fails for real, even as root.
        name = video_filename(row.job_id, "no picture", datetime.fromtimestamp(row.created_at, timezone.utc))
        blocker = settings.output_dir / Path(name).with_suffix(".png")
        blocker.mkdir()
        (blocker / "keep").write_text("x")
        done = await manager.wait(row.job_id, 20)
    assert done.status == "succeeded", done.error
    assert done.video["thumbnail_path"] is None
    verify(Path(done.video["path"]))


# -- PostgreSQL gone ----------------------------------------------------------------------------------------


class Hop:
    """A TCP hop between the server and PostgreSQL that can go down (every connection cut, new ones refused,
    as when the database server stops or its host is gone) and come back on the same port."""

    def __init__(self, target_port: int):
        import socket

        self._socket = socket
        self.target = target_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._open: list = []
        self._listener = None
        self.up()

    def up(self) -> None:
        import threading

        listener = self._socket.socket()
        listener.setsockopt(self._socket.SOL_SOCKET, self._socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress_os_error():  # wakes the thread blocked in accept (close alone does not, on Linux)
                listener.shutdown(self._socket.SHUT_RDWR)
            listener.close()
        for s in self._open:
            with suppress_os_error():
                s.shutdown(self._socket.SHUT_RDWR)
            s.close()
        self._open.clear()

    def _accept(self, listener) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = self._socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with suppress_os_error():
                sink.shutdown(2)


def suppress_os_error():
    from contextlib import suppress

    return suppress(OSError)


async def test_postgresql_gone_fails_tool_calls_clearly_and_the_server_recovers(env, postgres_url):
    from urllib.parse import urlsplit

    from server.store_pg import redact_url
    from tests.conftest import PG_PASSWORD

    port = urlsplit(postgres_url).port
    hop = Hop(port)
    url = postgres_url.replace(f":{port}/", f":{hop.port}/")
    settings = fast_store(env, VIDEOGEN_DATABASE_URL=url, VIDEOGEN_LEASE_SECONDS="0.9")
    try:
        async with Client(build_server(settings)) as client:
            started = await client.call_tool("generate_video", {"prompt": "before", "wait_seconds": 0, **FAST})
            job_id = started.structured_content["job_id"]
            hop.down()  # the database is gone while the job runs and finishes at the provider
            refused = await client.call_tool("generate_video", {"prompt": "during", **FAST})
            assert refused.is_error  # an error for this call only; the server goes on
            text = refused.content[0].text
            assert redact_url(url) in text and PG_PASSWORD not in text and "\n" not in text, text
            assert "check that PostgreSQL is running" in text, text
            status = await client.call_tool("get_status", {"job_id": job_id})
            assert status.is_error and PG_PASSWORD not in status.content[0].text, status.content[0].text
            await anyio.sleep(2.0)  # the job's writes and the housekeeping meet the outage meanwhile
            hop.up()
            # Calls fail (clearly) until the pool has connected again (it retries with a backoff of seconds);
            # the job, held meanwhile, then finishes.
            with anyio.fail_after(40):
                while (done := await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 5})).is_error:
                    assert "couldn't get a connection" in done.content[0].text, done.content[0].text
                    await anyio.sleep(0.2)
                while done.structured_content["status"] != "succeeded":
                    done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 5})
            after = await client.call_tool("generate_video", {"prompt": "after", **FAST})
            assert after.structured_content["status"] == "succeeded", after.content
    finally:
        hop.down()
    verify(Path(done.structured_content["video"]["path"]))
