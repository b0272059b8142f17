"""The job index on PostgreSQL (VIDEOGEN_DATABASE_URL): what only a shared database has. Leases claimed with
SKIP LOCKED and timed by the database's clock, admission atomic across processes, LISTEN/NOTIFY waking another
replica at once, migrations that two replicas may run at the same time, and errors that name the database
without its password. The tests every backend passes are in tests/test_store.py and tests/test_budget_atomic.py.

Each test gets a fresh database on a throwaway cluster (tests/conftest.py: postgres_server); without
PostgreSQL they skip with the reason (in CI they fail)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import psycopg
import pytest

from server.budget import Budget, Limits
from server.catalog import RequestArgs
from server.jobs import JobManager
from server.settings import Settings
from server.store import MIGRATIONS, JobRow, StoreError
from server.store_pg import PostgresJobStore, redact_url
from tests.conftest import PG_PASSWORD, PYTHON, ROOT, subprocess_env

FAST = {"resolution": "360p", "duration": 1}


def row(job_id: str, **fields) -> JobRow:
    now = time.time()
    values = {"status": "pending", "provider": "demo", "model": "demo-v1", "request": {"prompt": job_id}}
    return JobRow(job_id=job_id, created_at=now, updated_at=now, **{**values, **fields})


@pytest.fixture
def store(postgres_url: str):
    opened = PostgresJobStore(postgres_url)
    yield opened
    opened.close()


def other_connection(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


# -- schema ------------------------------------------------------------------------------------------------


def test_replicas_starting_at_once_migrate_once(postgres_url: str):
    start = threading.Barrier(6)
    opened: list[PostgresJobStore] = []
    errors: list[BaseException] = []

    def replica() -> None:
        start.wait()
        try:
            opened.append(PostgresJobStore(postgres_url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(opened) == 6
    with other_connection(postgres_url) as db:
        assert db.execute("SELECT version FROM videogen_schema").fetchall() == [(len(MIGRATIONS),)]
        kinds = dict(
            db.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name='jobs'")
        )
    assert kinds["created_at"] == kinds["lease_expires"] == "double precision"  # not 4-byte REAL: times keep ms
    assert kinds["callback_token_sha256"] == "text" and kinds["queue_position"] == "integer"
    for s in opened:
        s.close()


def test_a_database_from_a_newer_version_is_refused(store: PostgresJobStore, postgres_url: str):
    with other_connection(postgres_url) as db:
        db.execute("UPDATE videogen_schema SET version=%s", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer mcp-videogen") as refused:
        PostgresJobStore(postgres_url)
    assert PG_PASSWORD not in str(refused.value)


def test_times_keep_their_precision(store: PostgresJobStore):
    stored = store.insert(row("job_a"))
    got = store.get("job_a")
    assert got is not None and got.created_at == stored.created_at  # a float8 round trip is exact


# -- leases: SKIP LOCKED and the database's clock ----------------------------------------------------------


def test_a_row_being_claimed_elsewhere_is_skipped_not_waited_for(store: PostgresJobStore, postgres_url: str):
    store.insert(row("job_a"))
    with psycopg.connect(postgres_url) as other:  # another replica in the middle of its claim
        other.execute("SELECT * FROM jobs WHERE job_id='job_a' FOR UPDATE")
        started = time.monotonic()
        assert not store.claim("job_a", "elsewhere:1:a", 30)
        assert time.monotonic() - started < 1.0  # SKIP LOCKED: no wait for the lock (lock_timeout is 10 s)
        other.rollback()
    assert store.claim("job_a", "elsewhere:1:a", 30)


def test_owners_racing_for_one_job_get_it_once(postgres_url: str):
    seed = PostgresJobStore(postgres_url)
    for n in range(20):
        seed.insert(row(f"job_{n:02}"))
    stores = [PostgresJobStore(postgres_url) for _ in range(4)]
    start = threading.Barrier(4)
    won: dict[str, list[str]] = {}

    def owner(n: int) -> None:
        me = f"replica-host-{n}:1:x"
        start.wait()
        for job_id in stores[n].orphans(me):
            if stores[n].claim(job_id, me, 30):
                won.setdefault(job_id, []).append(me)

    threads = [threading.Thread(target=owner, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(won) == [f"job_{n:02}" for n in range(20)]
    assert all(len(owners) == 1 for owners in won.values()), won
    held = {r.job_id: r.lease_owner for r in seed.list(limit=100)}
    assert all(held[job_id] == owners[0] for job_id, owners in won.items())
    for s in [seed, *stores]:
        s.close()


def test_leases_run_by_the_databases_clock_not_the_replicas(store: PostgresJobStore, monkeypatch):
    store.insert(row("job_a"))
    alice, bob = "elsewhere:1:a", "elsewhere:2:b"
    assert store.claim("job_a", alice, 2.0)
    # Bob's replica has a clock an hour fast: alice's lease is not over for him.
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3600)
    assert store.orphans(bob) == [] and not store.claim("job_a", bob, 30)
    with store._tx() as conn:
        expires, now = (
            conn.execute("SELECT lease_expires, extract(epoch from clock_timestamp())::float8 FROM jobs")
            .fetchone()
            .values()
        )
    assert 1.0 < expires - now <= 2.0  # stamped by the database's clock
    # A holder that died elsewhere is taken over once its lease runs out by the database's clock.
    time.sleep(2.1)
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # a slow clock does not delay it either
    assert store.orphans(bob) == ["job_a"] and store.claim("job_a", bob, 30)
    assert store.hold("job_a", bob, 30) and not store.hold("job_a", alice, 30)


def test_a_dead_holder_on_this_host_is_recognised_at_once(store: PostgresJobStore):
    from server.store import new_owner_id

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{new_owner_id().split(':')[0]}:{child.pid}:deadbeef"
    store.insert(row("job_a"))
    store.insert(row("job_b"))
    assert store.claim("job_a", dead, 3600) and store.claim("job_b", "another-host:1:x", 3600)
    assert store.orphans("me") == ["job_a"]  # the other host's holder: only its lease's end counts


# -- admission: atomic across processes --------------------------------------------------------------------

RACER = """
import sys, time
from server.budget import Budget, Limits
from server.store import JobRow
from server.store_pg import PostgresJobStore
from providers.base import ProviderError

url, n, at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
store = PostgresJobStore(url)
budget = Budget(store, Limits(daily_budget=1.0))
now = time.time()
row = JobRow(job_id=f"job_{n}", status="pending", provider="demo", model="demo-v1", request={"prompt": str(n)},
             created_at=now, updated_at=now, cost_estimate=0.6)
time.sleep(max(0.0, at - time.time()))
try:
    store.insert(row, admit=lambda: budget.enforce(0.6))
    print("accepted")
except ProviderError as error:
    print(error.code.value)
"""


def test_the_daily_budget_holds_across_processes(postgres_url: str):
    """Six processes (as six replicas) race to reserve $0.60 of a $1.00 daily budget: one wins."""
    PostgresJobStore(postgres_url).close()
    at = time.time() + 3.0  # they start together once all have connected
    racers = [
        subprocess.Popen(
            [PYTHON, "-c", RACER, postgres_url, str(n), str(at)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for n in range(6)
    ]
    results = sorted(p.communicate(timeout=60)[0].strip() for p in racers)
    assert results == ["OVER_BUDGET"] * 5 + ["accepted"], results
    store = PostgresJobStore(postgres_url)
    assert len(store.list()) == 1 and Budget(store, Limits()).today() == pytest.approx(0.6)
    store.close()


def test_the_ledger_reads_error_codes_from_json(store: PostgresJobStore):
    error = {"code": "SUBMIT_UNCONFIRMED", "message": "m", "retryable": False}
    store.insert(row("kept", status="failed", cost_estimate=0.5, error=error))
    store.insert(row("refunded", status="failed", cost_estimate=0.7, error={**error, "code": "RATE_LIMITED"}))
    assert Budget(store, Limits()).today() == pytest.approx(0.5)


def test_identical_inserts_from_separate_connections_make_one_job(postgres_url: str):
    PostgresJobStore(postgres_url).close()
    start = threading.Barrier(6)
    results: list[JobRow] = []

    def racer(n: int) -> None:
        own = PostgresJobStore(postgres_url)
        try:
            start.wait()
            results.append(own.insert(row(f"job_{n}", request_sha256="same"), dedupe_since=time.time() - 600))
        finally:
            own.close()

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6 and len({r.job_id for r in results}) == 1
    assert sum(not r.deduplicated for r in results) == 1


def test_an_idempotency_key_is_unique_across_connections(postgres_url: str):
    PostgresJobStore(postgres_url).close()
    start = threading.Barrier(6)
    results: list[str] = []

    def racer(n: int) -> None:
        own = PostgresJobStore(postgres_url)
        try:
            start.wait()
            results.append(own.insert(row(f"job_{n}", idempotency_key="order-1")).job_id)
        finally:
            own.close()

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6 and len(set(results)) == 1
    with other_connection(postgres_url) as db:
        with pytest.raises(psycopg.errors.UniqueViolation):  # and the database itself refuses a second one
            db.execute(
                "INSERT INTO jobs (job_id, idempotency_key, status, provider, model, request, created_at, updated_at)"
                " VALUES ('job_x', 'order-1', 'pending', 'demo', 'demo-v1', '{}', 0, 0)"
            )


# -- notifications ------------------------------------------------------------------------------------------


def test_writes_notify_other_processes_once_committed(store: PostgresJobStore, postgres_url: str):
    store.insert(row("job_a"))
    with other_connection(postgres_url) as listener:
        listener.execute("LISTEN videogen_jobs")
        store.update("job_a", None, message="one")
        store.request_cancel("job_a")
        assert store.offer_callback("job_a", {"snapshot": None}, lambda r: True)
        assert not store.offer_callback("job_a", {"snapshot": None}, lambda r: False)  # nothing stored: quiet
        assert not store.update("job_a", "not-the-holder", message="refused")  # nothing written: quiet
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=1.0)]
    assert got == [("videogen_jobs", "job_a")] * 3


def test_listen_hands_over_only_other_processes_changes(store: PostgresJobStore, postgres_url: str):
    store.insert(row("job_a"))
    store.insert(row("job_b"))
    heard: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=store.listen, args=(heard.append, stop), kwargs={"poll": 0.1})
    thread.start()
    try:
        time.sleep(0.5)  # listening
        store.update("job_a", None, message="mine")  # this process knows already
        other = PostgresJobStore(postgres_url)
        other.update("job_b", None, message="theirs")
        other.close()
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(5)
    assert heard == ["job_b"] and not thread.is_alive()


def test_a_listener_cut_off_listens_again_and_says_so(postgres_url: str):
    """The listener's connection is cut (the database restarted, a proxy dropped it): it reconnects, and
    `on_listening` tells the manager to have its waiters look again (what was notified meanwhile is lost)."""
    from urllib.parse import urlsplit

    from tests.test_store_faults import Hop

    port = urlsplit(postgres_url).port
    hop = Hop(port)
    store = PostgresJobStore(postgres_url.replace(f":{port}/", f":{hop.port}/"))
    store.insert(row("job_a"))
    listening: list[float] = []
    heard: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=store.listen,
        args=(heard.append, stop),
        kwargs={"on_listening": lambda: listening.append(time.monotonic()), "poll": 0.1},
    )
    thread.start()
    other = PostgresJobStore(postgres_url)
    try:
        deadline = time.monotonic() + 10
        while not listening and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(listening) == 1
        hop.down()
        time.sleep(0.5)
        hop.up()
        while len(listening) < 2 and time.monotonic() < deadline + 10:
            time.sleep(0.05)
        assert len(listening) == 2
        other.update("job_a", None, message="after the cut")
        while not heard and time.monotonic() < deadline + 15:
            time.sleep(0.05)
        assert heard == ["job_a"]
    finally:
        stop.set()
        thread.join(5)
        hop.down()
        other.close()
        store.close()


def two_replicas(env: dict[str, str], postgres_url: str, **extra: str) -> tuple[Settings, Settings]:
    """Two JobManagers' settings on one database, each with its own data folder; waiters look at the index
    only every 30 s on their own, so anything sooner is a notification."""
    shared = {**env, "VIDEOGEN_DATABASE_URL": postgres_url, "VIDEOGEN_HEARTBEAT_SECONDS": "30", **extra}
    second = {**shared, "VIDEOGEN_DATA_DIR": env["VIDEOGEN_DATA_DIR"] + "-b"}
    return Settings.from_env(shared), Settings.from_env(second)


@pytest.mark.anyio
async def test_a_job_finished_by_one_replica_wakes_a_waiter_on_another_at_once(env, postgres_url: str):
    a_settings, b_settings = two_replicas(env, postgres_url, VIDEOGEN_DEMO_LATENCY="1.5")
    async with JobManager(a_settings) as a, JobManager(b_settings) as b:
        job = await a.submit(RequestArgs(prompt="seen from b", **FAST))
        assert (await a.job(job.job_id)).lease_owner == a.owner
        seen: list[str] = []

        async def on_update(r: JobRow) -> None:
            seen.append(r.status)

        with anyio.fail_after(15):  # far less than b's 30 s between looks of its own
            done = await b.wait(job.job_id, 25, on_update)
        woke_at = time.time()
        assert done.status == "succeeded" and done.finished_at is not None
        assert woke_at - done.finished_at < 2.0, woke_at - done.finished_at
        assert len(seen) > 2  # progress on a's side reached b too (every write notifies)
        assert job.job_id not in b._watching
    assert not (Path(env["VIDEOGEN_DATA_DIR"]) / "jobs.sqlite3").exists()  # the index is the database


@pytest.mark.anyio
async def test_a_cancel_asked_of_one_replica_reaches_the_one_following_the_job_at_once(env, postgres_url: str):
    # The demo job is polled every 20 s here (1 s x VIDEOGEN_POLL_SCALE): a cancel noticed within a few
    # seconds was woken by the notification, not by a poll coming due.
    a_settings, b_settings = two_replicas(env, postgres_url, VIDEOGEN_DEMO_LATENCY="60", VIDEOGEN_POLL_SCALE="20")
    async with JobManager(a_settings) as a, JobManager(b_settings) as b:
        job = await a.submit(RequestArgs(prompt="cancel me from b", **FAST))
        with anyio.fail_after(10):
            while job.job_id not in a.scheduler:
                await anyio.sleep(0.05)
        await anyio.sleep(0.5)  # its first poll is done: the next is 20 s away
        asked = time.monotonic()
        answer = await b.cancel(job.job_id)
        assert answer.cancel_requested or answer.status == "cancelled"
        with anyio.fail_after(10):
            done = await b.wait(job.job_id, 10)
        assert done.status == "cancelled", done.message
        assert time.monotonic() - asked < 5.0
        assert (await a.job(job.job_id)).status == "cancelled"


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_the_engine_on_postgresql_runs_under_trio_too(env, postgres_url: str, anyio_backend: str):
    """Sync psycopg in worker threads (not psycopg's asyncio-only async API): the store, its off-loop reads and
    the LISTEN thread's wake-ups work under trio as under asyncio."""
    a_settings, b_settings = two_replicas(env, postgres_url, VIDEOGEN_DEMO_LATENCY="1")
    async with JobManager(a_settings) as a, JobManager(b_settings) as b:
        job = await a.submit(RequestArgs(prompt="under trio", **FAST))
        with anyio.fail_after(15):  # b looks on its own only every 30 s: the notification wakes it
            done = await b.wait(job.job_id, 25)
        assert done.status == "succeeded" and time.time() - done.finished_at < 2.0


# -- failures: one line, the database named, never its password ---------------------------------------------


def test_a_wrong_password_is_named_without_the_password(postgres_url: str):
    wrong = postgres_url.replace(PG_PASSWORD, "Not-The-Password-42")
    with pytest.raises(StoreError) as refused:
        PostgresJobStore(wrong, busy_seconds=3)
    text = str(refused.value)
    assert "Not-The-Password-42" not in text and PG_PASSWORD not in text and "\n" not in text
    assert redact_url(wrong) in text and "password authentication failed" in text
    assert "check the user and password in VIDEOGEN_DATABASE_URL" in text


def test_a_database_that_does_not_answer_is_named_with_what_to_do(postgres_url: str):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nobody = f"postgresql://someone:{PG_PASSWORD}@127.0.0.1:{port}/jobs"
    with pytest.raises(StoreError) as refused:
        PostgresJobStore(nobody, busy_seconds=2)
    text = str(refused.value)
    assert PG_PASSWORD not in text and f"postgresql://someone@127.0.0.1:{port}/jobs" in text
    assert "refused" in text.lower() and "check that PostgreSQL is running" in text and "\n" not in text


def test_a_missing_database_says_to_create_it(postgres_url: str):
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError, match="createdb") as refused:
        PostgresJobStore(missing, busy_seconds=3)
    assert PG_PASSWORD not in str(refused.value)


def test_a_server_gone_midway_is_a_store_error_then_the_store_recovers(store: PostgresJobStore, postgres_url, caplog):
    store.insert(row("job_a"))
    with other_connection(postgres_url) as admin:  # the server drops every connection (a restart, a failover)
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    failures = []
    for _ in range(store.pool_size + 1):  # each pooled connection was cut; the pool replaces them
        try:
            store.get("job_a")
        except StoreError as error:
            failures.append(str(error))
    assert failures, "no call noticed the cut connections"
    for text in failures:
        assert PG_PASSWORD not in text and redact_url(postgres_url) in text and "\n" not in text
    assert store.get("job_a") is not None  # the pool reconnected


def test_the_url_and_its_password_stay_out_of_settings_output_and_logs(env, postgres_url: str, caplog):
    settings = Settings.from_env({**env, "VIDEOGEN_DATABASE_URL": postgres_url})
    assert PG_PASSWORD not in repr(settings) and PG_PASSWORD not in settings.model_dump_json()
    assert PG_PASSWORD not in json.dumps(settings.model_dump(mode="json"))
    # The listener logs a lost connection; the password is not in it.
    caplog.set_level(logging.WARNING)
    bad = PostgresJobStore(postgres_url)
    bad.url = postgres_url.replace(PG_PASSWORD, "Wrong-" + PG_PASSWORD[::-1])
    bad._secret = "Wrong-" + PG_PASSWORD[::-1]
    stop = threading.Event()
    thread = threading.Thread(target=bad.listen, args=(lambda _: None, stop))
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(5)
    bad.close()
    assert "not listening for job changes" in caplog.text
    assert PG_PASSWORD not in caplog.text and PG_PASSWORD[::-1] not in caplog.text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:s3cret@db.example:5433/jobs", "postgresql://u@db.example:5433/jobs"),
        (
            "postgresql://db.example/jobs?password=s3cret&sslmode=require",
            "postgresql://db.example/jobs?sslmode=require",
        ),
        ("postgresql://u:p%40ss@h/d", "postgresql://u@h/d"),
    ],
)
def test_redacted_urls(url: str, shown: str):
    assert redact_url(url) == shown


def test_a_url_without_psycopg_installed_says_how_to_install_it(env, postgres_url: str):
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from server.settings import Settings\n"
        "from server.store import StoreError, open_store\n"
        "try:\n    open_store(Settings.from_env())\n"
        "except StoreError as e:\n    print(e)\n"
    )
    environment = subprocess_env({**env, "VIDEOGEN_DATABASE_URL": postgres_url})
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=environment)
    out = done.stdout
    assert "psycopg is not installed" in out and "pip install 'mcp-videogen[postgres]'" in out, (out, done.stderr)
    assert redact_url(postgres_url) in out and PG_PASSWORD not in out + done.stderr


def test_the_scheme_is_checked_at_start(env):
    from server.settings import SettingsError

    for ok in ("postgres://u:p@h/d", "postgresql://u:p@h/d"):
        assert Settings.from_env({**env, "VIDEOGEN_DATABASE_URL": ok}).database_url == ok
    with pytest.raises(SettingsError, match="must be a PostgreSQL URL") as refused:
        Settings.from_env({**env, "VIDEOGEN_DATABASE_URL": "mysql://u:hunter2@h/d"})
    assert "hunter2" not in str(refused.value)
    assert Settings.from_env({**env, "VIDEOGEN_DATABASE_URL": ""}).database_url is None
