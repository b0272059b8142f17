"""The job index in PostgreSQL (VIDEOGEN_DATABASE_URL), shared by any number of replicas.

The same schema as the SQLite index (server/store.py MIGRATIONS, translated by `migration_sql`), versioned in
the `videogen_schema` table and migrated under an advisory lock, so replicas starting at once do not race.

- Leases: `claim` locks the job's row with `SELECT ... FOR UPDATE SKIP LOCKED` (a row another replica is
  claiming right now is skipped, not waited for), and every lease time is the database's clock
  (`clock_timestamp()`), never a replica's: replicas whose clocks disagree still agree on who holds a job. A
  holder is taken as dead before its lease runs out only when it ran on this very host (`owner_is_dead`).
- Admission: `insert` takes a transaction-level advisory lock (ADMISSION_LOCK) before the idempotency-key
  lookup, the identical-request twin lookup and the budget check (`admit`, which reads the ledger through
  `query` on the same connection), so across replicas two requests cannot both pass a check the other would
  have failed; the idempotency key is also UNIQUE.
- Wake-ups: every `update`, `offer_callback` and `request_cancel` sends `pg_notify('videogen_jobs', job_id)`
  in its transaction (delivered at commit). `listen` blocks on one connection of its own and hands each job
  id that another process notified to a callback (the JobManager wakes its waiters and its scheduler).

Why synchronous psycopg in worker threads and not its async API: psycopg's async connections and pool are
built on asyncio (psycopg/waiting.py uses `asyncio.get_running_loop`), and the engine also runs under trio
(tests do). Sync psycopg with psycopg_pool.ConnectionPool, called through anyio worker threads, works under
both; the JobManager runs every call of this store, reads too, in a worker thread (`offloaded`), so none
blocks the event loop. Writes are not serialized here (PostgreSQL has no single writer).

Every failure (connection refused, authentication, a server gone, a pool with no free connection in time)
is a StoreError naming the database by its URL without the password, with what to do; the engine treats it
as transient. psycopg is imported only when this module is (pip install 'mcp-videogen[postgres]').
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from server.store import (
    _CANCELLABLE,
    _NON_TERMINAL,
    COLUMNS,
    LATE_SUBMISSION,
    MIGRATIONS,
    Dialect,
    JobRow,
    StoreError,
    decode_row,
    encode_values,
    late_params,
    migration_sql,
    owner_is_dead,
    redact_url,
    update_statement,
)

try:
    import psycopg
    import psycopg_pool
    from psycopg.rows import dict_row
except ImportError as missing:  # pragma: no cover - exercised by hand: the extra is in the test extra
    raise ImportError(
        f"VIDEOGEN_DATABASE_URL is set, but psycopg is not installed: pip install 'mcp-videogen[postgres]' ({missing})"
    ) from missing

log = logging.getLogger("videogen.store")

CHANNEL = "videogen_jobs"
# Advisory lock keys (any bigint unique to this application): the schema's migrations, and job admission.
MIGRATION_LOCK = 0x76696465_6F67656E & 0x7FFFFFFFFFFFFFFF  # "videogen"
ADMISSION_LOCK = MIGRATION_LOCK + 1
NOW = "extract(epoch from clock_timestamp())::float8"  # the database's clock, in Unix seconds
POOL_SIZE = 4  # connections per store (per process): the engine runs at most this many calls at once


def _password(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        if parts.password:
            return unquote(parts.password)
        return dict(parse_qsl(parts.query)).get("password")
    except ValueError:
        return None


def _advice(cause: str, starting: bool = False) -> str:
    text = cause.lower()
    if "password" in text or "authentication" in text or ("role" in text and "does not exist" in text):
        return "check the user and password in VIDEOGEN_DATABASE_URL"
    if "database" in text and "does not exist" in text:
        return "create that database (createdb NAME), or fix its name in VIDEOGEN_DATABASE_URL"
    if "permission denied" in text:
        return "grant this database user the rights to create and write tables in that database"
    if "newer mcp-videogen" in text:
        return "upgrade mcp-videogen, or point VIDEOGEN_DATABASE_URL at another database"
    return "check that PostgreSQL is running and reachable at the host and port in VIDEOGEN_DATABASE_URL" + (
        "" if starting else "; this server retries on its own"
    )


class PostgresJobStore:
    dialect: Dialect = "postgresql"
    offloaded = True

    def __init__(self, url: str, *, busy_seconds: float = 10.0, pool_size: int = POOL_SIZE):
        """Connect (and create or migrate the schema). `busy_seconds`: how long a call waits for a connection
        (or a lock) before failing with StoreError. Raises StoreError (one line) when unusable."""
        self.url = url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
        self.path = redact_url(self.url)  # what errors name (StoreError's "path")
        self._secret = _password(self.url)
        self._busy_seconds = busy_seconds
        self.pool_size = pool_size
        self._local = threading.local()  # the connection of this thread's open transaction, if any
        self._backends: set[int] = set()  # backend pids of this store's connections (its own notifications)
        self._connect_kwargs: dict[str, Any] = {
            "connect_timeout": max(1, int(busy_seconds)),
            "application_name": "mcp-videogen",
        }
        try:
            with psycopg.connect(self.url, **self._connect_kwargs) as conn:
                self._migrate(conn)
        except psycopg.Error as error:
            raise self._error(error, starting=True) from None
        self._pool = psycopg_pool.ConnectionPool(
            self.url,
            min_size=1,
            max_size=pool_size,
            kwargs=self._connect_kwargs,
            configure=self._configure,
            timeout=busy_seconds,
            open=False,
            name="videogen",
        )
        try:
            self._pool.open(wait=True, timeout=busy_seconds)
        except psycopg.Error as error:
            self._pool.close()
            raise self._error(error, starting=True) from None

    # -- connections ---------------------------------------------------------------------------
    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        self._backends.add(conn.info.backend_pid)
        # A statement waiting longer than busy_seconds for a lock fails (as SQLite's busy timeout does).
        conn.execute(f"SET lock_timeout = {int(self._busy_seconds * 1000)}")
        conn.commit()

    def _error(self, error: BaseException, starting: bool = False) -> StoreError:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if self._secret:
            cause = cause.replace(self._secret, "***").replace(quote(self._secret, safe=""), "***")
        return StoreError(self.path, cause, _advice(cause, starting))

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection in a transaction (committed at the end, rolled back on an error). Inside another
        `_tx` of this thread, the same connection and transaction (so `admit` reads what `insert` locked)."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._pool.connection() as conn:
            conn.row_factory = dict_row
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield conn
            finally:
                self._local.conn = None

    def close(self) -> None:
        self._pool.close()

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS videogen_schema (version INTEGER NOT NULL)")
            found = conn.execute("SELECT version FROM videogen_schema").fetchone()
            if found is None:
                conn.execute("INSERT INTO videogen_schema (version) VALUES (0)")
                version = 0
            else:
                version = found[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    self.path,
                    f"it was written by a newer mcp-videogen (schema {version})",
                    "upgrade mcp-videogen, or point VIDEOGEN_DATABASE_URL at another database",
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in migration_sql(script, "postgresql"):
                    conn.execute(statement)
                conn.execute("UPDATE videogen_schema SET version=%s", (number,))

    # -- rows ----------------------------------------------------------------------------------
    _decode = staticmethod(decode_row)
    _encode = staticmethod(encode_values)

    def _one(self, sql: str, params: tuple[Any, ...] | list[Any]) -> JobRow | None:
        with self._tx() as conn:
            found = conn.execute(sql, params).fetchone()
        return self._decode(found) if found else None

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        """Rows (tuples) of a read-only query written with `?` placeholders (the budget's ledger)."""
        with self._tx() as conn:
            cursor = conn.cursor(row_factory=psycopg.rows.tuple_row)
            cursor.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall()

    def insert(
        self,
        row: JobRow,
        *,
        lease_owner: str | None = None,
        lease_seconds: float = 0.0,
        admit: Callable[[], None] | None = None,
        dedupe_since: float | None = None,
    ) -> JobRow:
        """As JobStore.insert; the lookups, `admit` and the insert hold ADMISSION_LOCK across replicas."""
        values = self._encode({c: getattr(row, c) for c in COLUMNS})
        placeholders = ["%s"] * len(values)
        if lease_owner:
            values["lease_owner"], values["lease_expires"] = lease_owner, lease_seconds
            placeholders[list(values).index("lease_expires")] = f"{NOW} + %s"
        with self._tx() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADMISSION_LOCK,))
            if row.idempotency_key:
                existing = conn.execute("SELECT * FROM jobs WHERE idempotency_key=%s", (row.idempotency_key,))
                if found := existing.fetchone():
                    return self._decode(found)
            elif (
                dedupe_since is not None
                and row.request_sha256
                and (twin := self.twin(row.request_sha256, dedupe_since))
            ):
                return twin
            if admit is not None:
                admit()
            conn.execute(
                f"INSERT INTO jobs ({','.join(values)}) VALUES ({','.join(placeholders)})",
                tuple(values.values()),
            )
        return row

    def get(self, job_id: str) -> JobRow | None:
        return self._one("SELECT * FROM jobs WHERE job_id=%s", (job_id,))

    def twin(self, request_sha256: str, since: float) -> JobRow | None:
        """As JobStore.twin."""
        twin = self._one(
            f"SELECT * FROM jobs WHERE request_sha256=%s AND cancel_requested=0 "
            f"AND ({_NON_TERMINAL} OR (status='succeeded' AND finished_at>=%s)) ORDER BY created_at DESC LIMIT 1",
            (request_sha256, since),
        )
        if twin is not None:
            twin.deduplicated = True
        return twin

    def by_idempotency_key(self, key: str) -> JobRow | None:
        return self._one("SELECT * FROM jobs WHERE idempotency_key=%s", (key,))

    def list(self, status: str | None = None, limit: int = 20) -> list[JobRow]:
        with self._tx() as conn:
            if status:
                cursor = conn.execute(
                    "SELECT * FROM jobs WHERE status=%s ORDER BY created_at DESC LIMIT %s", (status, limit)
                )
            else:
                cursor = conn.execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT %s", (limit,))
            return [self._decode(r) for r in cursor.fetchall()]

    def update(self, job_id: str, owner: str | None, **changes: Any) -> bool:
        """As JobStore.update; a write notifies other processes (LISTEN videogen_jobs)."""
        with self._tx() as conn:
            written = conn.execute(*update_statement(job_id, owner, changes, "%s")).rowcount == 1
            if written:
                self._notify(conn, job_id)
        return written

    @staticmethod
    def _notify(conn: psycopg.Connection[Any], job_id: str) -> None:
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, job_id))

    def keep_late_submission(
        self, job_id: str, ref: str, state: dict[str, Any], message: str, cost_at_least: float = 0.0
    ) -> bool:
        """As JobStore.keep_late_submission; the change is notified."""
        with self._tx() as conn:
            params = late_params(job_id, ref, state, message, cost_at_least)
            kept = conn.execute(LATE_SUBMISSION, params).rowcount == 1
            if kept:
                self._notify(conn, job_id)
        return kept

    def request_cancel(self, job_id: str) -> None:
        with self._tx() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET cancel_requested=1, message='cancellation requested', updated_at=%s "
                f"WHERE job_id=%s AND {_CANCELLABLE}",
                (time.time(), job_id),
            )
            if cursor.rowcount:
                self._notify(conn, job_id)

    # -- provider callbacks ----------------------------------------------------------------------
    def offer_callback(self, job_id: str, callback: dict[str, Any], accept: Callable[[JobRow], bool]) -> bool:
        """As JobStore.offer_callback: the row is locked while `accept` decides; the watcher is notified."""
        with self._tx() as conn:
            found = conn.execute("SELECT * FROM jobs WHERE job_id=%s FOR UPDATE", (job_id,)).fetchone()
            if found is None or not accept(self._decode(found)):
                return False
            conn.execute("UPDATE jobs SET callback=%s WHERE job_id=%s", (json.dumps(callback), job_id))
            self._notify(conn, job_id)
        return True

    def take_callback(self, job_id: str, owner: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            found = conn.execute(
                "SELECT callback FROM jobs WHERE job_id=%s AND lease_owner=%s FOR UPDATE", (job_id, owner)
            ).fetchone()
            if found is None or found["callback"] is None:
                return None
            conn.execute("UPDATE jobs SET callback=NULL WHERE job_id=%s", (job_id,))
        taken: dict[str, Any] = json.loads(found["callback"])
        return taken

    # -- leases (the database's clock) -----------------------------------------------------------
    def claim(self, job_id: str, owner: str, seconds: float) -> bool:
        """Take the job if nobody holds it, its lease ran out (by the database's clock), or its holder is a
        dead process of this host. A row another process is claiming at this moment is skipped: False."""
        with self._tx() as conn:
            found = conn.execute(
                f"SELECT lease_owner, lease_expires, {NOW} AS now FROM jobs "
                f"WHERE job_id=%s AND {_NON_TERMINAL} FOR UPDATE SKIP LOCKED",
                (job_id,),
            ).fetchone()
            if found is None:
                return False
            holder, expires = found["lease_owner"], found["lease_expires"] or 0.0
            if holder and holder != owner and expires > found["now"] and not owner_is_dead(holder):
                return False
            conn.execute(
                f"UPDATE jobs SET lease_owner=%s, lease_expires={NOW} + %s WHERE job_id=%s",
                (owner, seconds, job_id),
            )
        return True

    def hold(self, job_id: str, owner: str, seconds: float) -> bool:
        with self._tx() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET lease_expires={NOW} + %s WHERE job_id=%s AND lease_owner=%s AND {_NON_TERMINAL}",
                (seconds, job_id, owner),
            )
            return cursor.rowcount == 1

    def renew(self, owner: str, seconds: float) -> int:
        with self._tx() as conn:
            cursor = conn.execute(
                f"UPDATE jobs SET lease_expires={NOW} + %s WHERE lease_owner=%s AND {_NON_TERMINAL}",
                (seconds, owner),
            )
            return cursor.rowcount

    def release(self, owner: str, job_id: str | None = None) -> None:
        sql, params = "UPDATE jobs SET lease_owner=NULL, lease_expires=NULL WHERE lease_owner=%s", [owner]
        if job_id is not None:
            sql += " AND job_id=%s"
            params.append(job_id)
        with self._tx() as conn:
            conn.execute(sql, params)

    def orphans(self, owner: str) -> builtins.list[str]:
        """Unfinished jobs no live process watches: unheld, their lease run out by the database's clock, or
        held by a dead process of this host."""
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT job_id, lease_owner, lease_expires, {NOW} AS now FROM jobs WHERE {_NON_TERMINAL} "
                "AND (lease_owner IS NULL OR lease_owner != %s) ORDER BY created_at",
                (owner,),
            ).fetchall()
        return [
            r["job_id"]
            for r in rows
            if r["lease_owner"] is None or (r["lease_expires"] or 0) <= r["now"] or owner_is_dead(r["lease_owner"])
        ]

    # -- wake-ups across processes ---------------------------------------------------------------
    def listen(
        self,
        on_notify: Callable[[str], None],
        stop: threading.Event,
        *,
        on_listening: Callable[[], None] | None = None,
        poll: float = 0.5,
    ) -> None:
        """Block until `stop` is set, calling `on_notify(job_id)` for each job another process changed
        (notifications from this store's own connections are left out: this process knows already), and
        `on_listening()` each time it starts listening. A lost connection is reopened (notifications meanwhile
        are lost: `on_listening` says when to look again)."""
        while not stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, **self._connect_kwargs) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if on_listening is not None:
                        on_listening()
                    while not stop.is_set():
                        for notify in conn.notifies(timeout=poll):
                            if notify.pid not in self._backends:
                                on_notify(notify.payload)
            except psycopg.Error as error:
                log.warning("not listening for job changes: %s (trying again)", self._error(error))
                stop.wait(1.0)


def _guard(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any psycopg (or pool) failure inside a store method into a StoreError naming the database."""

    @functools.wraps(method)
    def wrapper(self: PostgresJobStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except psycopg.Error as error:
            raise self._error(error) from None

    return wrapper


for _name in (
    "query insert get twin by_idempotency_key list update request_cancel offer_callback take_callback "
    "claim hold renew release orphans"
).split():
    setattr(PostgresJobStore, _name, _guard(getattr(PostgresJobStore, _name)))
