"""The job index: the single source of truth about jobs. SQLite in WAL mode by default (JobStore, here);
PostgreSQL when VIDEOGEN_DATABASE_URL is set (PostgresJobStore, server/store_pg.py), for replicas sharing one
index. Both have the methods of `Store`, the same schema (MIGRATIONS, one list of logical migrations written
in SQLite's types, translated for PostgreSQL by `migration_sql`) and the same lease rules. `open_store`
picks one from the settings.

Several server processes may share one index (desktop clients sometimes start more than one).
A job is watched by one process at a time through a lease: a row-level claim with an expiry that
its holder keeps renewing; when a holder dies, its leases run out and another process takes over.

Every SQLite failure (the index locked by another process for longer than the busy timeout, a full disk,
a read-only or corrupt file) surfaces as StoreError: one line naming the index, the cause and what to do.
The job engine treats it as transient (retry later), never as the end of the server.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from server.settings import Settings

from providers.base import TERMINAL

# Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        status TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        request TEXT NOT NULL,
        progress REAL,
        queue_position INTEGER,
        message TEXT NOT NULL DEFAULT '',
        cost_estimate REAL,
        cost_charged REAL,
        provider_ref TEXT,
        provider_state TEXT,
        submit_started_at REAL,
        video TEXT,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL
    );
    CREATE INDEX jobs_by_status ON jobs (status, created_at);
    CREATE INDEX jobs_by_created ON jobs (created_at);
    """,
    # Provider callbacks: the hash of the job's callback token (never the token), and the latest callback
    # the watcher has not acted on yet ({"snapshot": Snapshot | null}).
    """
    ALTER TABLE jobs ADD COLUMN callback_token_sha256 TEXT;
    ALTER TABLE jobs ADD COLUMN callback TEXT;
    """,
    # submit_refused_at: the last submit attempt was provably refused (429, 503, no connection), so a resumed
    # job may resend it. request_sha256: the normalized request, to tell an idempotency key's reuse apart.
    """
    ALTER TABLE jobs ADD COLUMN submit_refused_at REAL;
    ALTER TABLE jobs ADD COLUMN request_sha256 TEXT;
    """,
    # Finding an identical request's twin (dedupe) at every submit.
    """
    CREATE INDEX jobs_by_request ON jobs (request_sha256, created_at);
    """,
]

# SQLite's type names in MIGRATIONS, as PostgreSQL spells them (REAL there is 4 bytes: too coarse for times).
_PG_TYPES = {"REAL": "DOUBLE PRECISION"}

Dialect = Literal["sqlite", "postgresql"]


def migration_sql(script: str, dialect: Dialect) -> list[str]:
    """The statements of one entry of MIGRATIONS, in the dialect's types."""
    statements = [s.strip() for s in script.split(";") if s.strip()]
    if dialect == "postgresql":
        pattern = re.compile(r"\b({})\b".format("|".join(_PG_TYPES)))
        statements = [pattern.sub(lambda m: _PG_TYPES[m.group(1)], s) for s in statements]
    return statements


JSON_COLUMNS = ("request", "provider_state", "video", "error", "callback")
COLUMNS = (
    "job_id idempotency_key status provider model request progress queue_position message cost_estimate "
    "cost_charged provider_ref provider_state submit_started_at video error cancel_requested lease_owner "
    "lease_expires created_at updated_at finished_at callback_token_sha256 callback submit_refused_at request_sha256"
).split()
_NON_TERMINAL = "status NOT IN ({})".format(",".join(f"'{s}'" for s in sorted(TERMINAL)))
# What a cancel may still stop (and a watcher follows): not a job whose finished, paid video is downloading.
CANCELLABLE = ("pending", "queued", "running")
_CANCELLABLE = "status IN ({})".format(",".join(f"'{s}'" for s in CANCELLABLE))


@dataclass
class JobRow:
    """One row of the index, JSON columns decoded."""

    job_id: str
    status: str
    provider: str
    model: str
    request: dict[str, Any]
    created_at: float
    updated_at: float
    idempotency_key: str | None = None
    progress: float | None = None
    queue_position: int | None = None
    message: str = ""
    cost_estimate: float | None = None
    cost_charged: float | None = None
    provider_ref: str | None = None
    provider_state: dict[str, Any] = field(default_factory=dict)
    submit_started_at: float | None = None
    video: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cancel_requested: bool = False
    lease_owner: str | None = None
    lease_expires: float | None = None
    finished_at: float | None = None
    callback_token_sha256: str | None = None
    callback: dict[str, Any] | None = None
    submit_refused_at: float | None = None
    request_sha256: str | None = None
    # Not stored: set on a job returned for an identical request instead of a new one (see JobStore.twin).
    deduplicated: bool = False

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def decode_row(row: Mapping[str, Any]) -> JobRow:
    """A row as either database returns it (column -> value), JSON columns decoded."""
    values = dict(row)
    for column in JSON_COLUMNS:
        if values[column] is not None:
            values[column] = json.loads(values[column])
    values["provider_state"] = values["provider_state"] or {}
    values["cancel_requested"] = bool(values["cancel_requested"])
    return JobRow(**values)


def encode_values(values: dict[str, Any]) -> dict[str, Any]:
    """Column values as either database stores them: JSON columns as compact text, the flag as 0/1."""
    out = dict(values)
    for column in JSON_COLUMNS:
        if column in out and out[column] is not None:
            out[column] = json.dumps(out[column], separators=(",", ":"))
    if "cancel_requested" in out:
        out["cancel_requested"] = int(bool(out["cancel_requested"]))
    return out


def update_statement(job_id: str, owner: str | None, changes: dict[str, Any], mark: str) -> tuple[str, list[Any]]:
    """The UPDATE of Store.update in either database's placeholder (`mark`): with an owner, only while that
    owner holds the lease."""
    values = encode_values(changes)
    values["updated_at"] = time.time()
    sql = f"UPDATE jobs SET {','.join(f'{k}={mark}' for k in values)} WHERE job_id={mark}"
    params: list[Any] = [*values.values(), job_id]
    if owner is not None:
        sql += f" AND lease_owner={mark}"
        params.append(owner)
    return sql, params


LATE_SUBMISSION = (
    "UPDATE jobs SET provider_ref=%s, provider_state=%s, message=%s, updated_at=%s, "
    "error=CASE WHEN status='failed' THEN %s ELSE error END, "
    "cost_estimate=CASE WHEN %s > COALESCE(cost_estimate, 0) THEN %s ELSE cost_estimate END "
    "WHERE job_id=%s AND provider_ref IS NULL"
)


def late_params(job_id: str, ref: str, state: dict[str, Any], message: str, cost_at_least: float) -> tuple[Any, ...]:
    error = json.dumps(late_error(message))
    return (ref, json.dumps(state), message, time.time(), error, cost_at_least, cost_at_least, job_id)


def late_error(message: str) -> dict[str, Any]:
    """A failed job's error once its provider's late answer shows the job exists there (keep_late_submission)."""
    return {"code": "SUBMIT_UNCONFIRMED", "message": message, "retryable": False}


def new_owner_id() -> str:
    """Who holds a lease: host and pid (to spot a dead holder on this machine) plus a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True only when the holder is certainly gone: a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child not yet reaped by its parent still answers kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def redact_url(url: str) -> str:
    """The URL as it may be shown: no password (in the netloc or as a query parameter)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")
        host = netloc[2]
        user = netloc[0].partition(":")[0] if netloc[1] else ""
        shown = f"{user}@{host}" if user else host
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
        return urlunsplit((parts.scheme, shown, parts.path, query, ""))
    except ValueError:
        return "(an unreadable VIDEOGEN_DATABASE_URL)"


class StoreError(RuntimeError):
    """The job index cannot be read or written (now). One line: which file (or database URL, without its
    password), what failed, what to do."""

    def __init__(self, path: Path | str, cause: object, action: str | None = None):
        self.path = path
        self.cause = str(cause)
        super().__init__(f"the job index {path} cannot be used: {self.cause}; {action or _advice(self.cause)}")


def _advice(cause: str) -> str:
    text = cause.lower()
    if "locked" in text or "busy" in text:
        return (
            "another process holds it (another mcp-videogen, or a tool that opened the file); "
            "this server retries on its own, or close that process"
        )
    if "full" in text:
        return "free disk space on its drive, or set VIDEOGEN_DATA_DIR to a folder on another drive"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            "move the file aside (a new empty index is made at the next start; the jobs it held are forgotten), "
            "or set VIDEOGEN_DATA_DIR to another folder"
        )
    return "make the file and its folder writable by this user, or set VIDEOGEN_DATA_DIR to another folder"


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any SQLite failure inside a JobStore method into a StoreError naming the index."""

    @functools.wraps(method)
    def wrapper(self: JobStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            raise StoreError(self.path, error) from error

    return wrapper


class Store(Protocol):
    """What the engine, the budget and the CLI use of a job index (JobStore and PostgresJobStore).

    `offloaded`: every call may wait on the network, so callers on the event loop run even reads in a worker
    thread (PostgreSQL); False where reads are cheap enough for the event loop (local SQLite in WAL mode)."""

    dialect: Dialect
    offloaded: bool

    def close(self) -> None: ...
    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]: ...
    def insert(
        self,
        row: JobRow,
        *,
        lease_owner: str | None = None,
        lease_seconds: float = 0.0,
        admit: Callable[[], None] | None = None,
        dedupe_since: float | None = None,
    ) -> JobRow: ...
    def get(self, job_id: str) -> JobRow | None: ...
    def twin(self, request_sha256: str, since: float) -> JobRow | None: ...
    def by_idempotency_key(self, key: str) -> JobRow | None: ...
    def list(self, status: str | None = None, limit: int = 20) -> list[JobRow]: ...
    def update(self, job_id: str, owner: str | None, **changes: Any) -> bool: ...
    def request_cancel(self, job_id: str) -> None: ...
    def keep_late_submission(
        self, job_id: str, ref: str, state: dict[str, Any], message: str, cost_at_least: float = 0.0
    ) -> bool: ...
    def offer_callback(self, job_id: str, callback: dict[str, Any], accept: Callable[[JobRow], bool]) -> bool: ...
    def take_callback(self, job_id: str, owner: str) -> dict[str, Any] | None: ...
    def claim(self, job_id: str, owner: str, seconds: float) -> bool: ...
    def hold(self, job_id: str, owner: str, seconds: float) -> bool: ...
    def renew(self, owner: str, seconds: float) -> int: ...
    def release(self, owner: str, job_id: str | None = None) -> None: ...
    def orphans(self, owner: str) -> builtins.list[str]: ...


def open_store(settings: Settings) -> Store:
    """The job index the settings name: PostgreSQL with VIDEOGEN_DATABASE_URL, else the SQLite file."""
    if settings.database_url:
        try:
            from server.store_pg import PostgresJobStore  # psycopg only when asked for: cold start matters
        except ImportError as missing:
            raise StoreError(
                redact_url(settings.database_url),
                f"psycopg is not installed ({missing.name or missing})",
                "pip install 'mcp-videogen[postgres]', or unset VIDEOGEN_DATABASE_URL to use the SQLite index",
            ) from None
        return PostgresJobStore(settings.database_url, busy_seconds=settings.store_busy_seconds)
    return JobStore(settings.index_path, busy_seconds=settings.store_busy_seconds)


class JobStore:
    dialect: Dialect = "sqlite"
    offloaded = False

    def __init__(self, path: Path, *, busy_seconds: float = 10.0):
        """Open (and create or migrate) the index. `busy_seconds`: how long a statement waits for another
        process's write lock before failing with StoreError. Raises StoreError (one line) when unusable.

        Each thread gets its own connection (a transaction belongs to a connection): the job engine writes
        from a worker thread while tool calls read on the event loop's, and in WAL mode a reader never waits
        for a writer, here or in another process."""
        self.path = path
        self._busy_seconds = busy_seconds
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._connections_lock = threading.Lock()
        self._shared: Any = None  # set through `db` (tests put a faulty connection there): every thread's
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(path, f"cannot create its folder ({error.strerror or error})") from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except sqlite3.Error as error:
            self.close()
            raise StoreError(path, error) from None
        except StoreError:
            self.close()
            raise

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._shared is not None:
            return self._shared
        db = getattr(self._local, "db", None)
        return db if db is not None else self._connect()

    @db.setter
    def db(self, connection: Any) -> None:
        self._shared = connection

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: each statement is its own transaction unless we open one.
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_seconds)
        except sqlite3.Error as error:
            raise StoreError(self.path, error) from None
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA busy_timeout={int(self._busy_seconds * 1000)}")
        except sqlite3.Error as error:
            db.close()
            raise StoreError(self.path, error) from None
        with self._connections_lock:
            # A worker thread that has ended leaves its connection behind: close it.
            ended = [old for thread, old in self._connections if not thread.is_alive()]
            self._connections = [c for c in self._connections if c[0].is_alive()]
            self._connections.append((threading.current_thread(), db))
        for old in ended:
            old.close()
        self._local.db = db
        return db

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for _, db in connections:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (disk full) can leave the transaction open: end it, or every later BEGIN fails.
            if db.in_transaction:
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    self.path,
                    f"it was written by a newer mcp-videogen (schema {version})",
                    "upgrade mcp-videogen, or set VIDEOGEN_DATA_DIR to another folder",
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in migration_sql(script, "sqlite"):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={number}")

    @_guarded
    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query (the budget's ledger reads through this)."""
        return self.db.execute(sql, params).fetchall()

    # -- rows ----------------------------------------------------------------------------------
    _decode = staticmethod(decode_row)
    _encode = staticmethod(encode_values)

    @_guarded
    def insert(
        self,
        row: JobRow,
        *,
        lease_owner: str | None = None,
        lease_seconds: float = 0.0,
        admit: Callable[[], None] | None = None,
        dedupe_since: float | None = None,
    ) -> JobRow:
        """Insert a new job. With an idempotency key already used, return that job instead (the caller checks
        it is the same request). Without a key and with `dedupe_since`, return the request's twin instead
        when there is one (see `twin`), marked `deduplicated`. `admit` runs inside the same write transaction,
        before the insert, and may raise to refuse the job: a budget check made there holds against every
        process sharing the index; so does the twin lookup (two identical requests at once make one job)."""
        values = self._encode({c: getattr(row, c) for c in COLUMNS})
        if lease_owner:
            values["lease_owner"], values["lease_expires"] = lease_owner, time.time() + lease_seconds
        with self._transaction() as db:
            if row.idempotency_key:
                existing = db.execute("SELECT * FROM jobs WHERE idempotency_key=?", (row.idempotency_key,)).fetchone()
                if existing:
                    return self._decode(existing)
            elif (
                dedupe_since is not None
                and row.request_sha256
                and (twin := self._twin(row.request_sha256, dedupe_since))
            ):
                return twin
            if admit is not None:
                admit()
            names = ",".join(values)
            db.execute(f"INSERT INTO jobs ({names}) VALUES ({','.join('?' * len(values))})", tuple(values.values()))
        return row

    @_guarded
    def get(self, job_id: str) -> JobRow | None:
        row = self.db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        return self._decode(row) if row else None

    @_guarded
    def twin(self, request_sha256: str, since: float) -> JobRow | None:
        """The newest job for the same normalized request that is still under way (and not being cancelled),
        or succeeded at `since` or later; marked `deduplicated`. A failed or cancelled one does not count: the
        agent may mean to try again."""
        return self._twin(request_sha256, since)

    def _twin(self, request_sha256: str, since: float) -> JobRow | None:
        found = self.db.execute(
            f"SELECT * FROM jobs WHERE request_sha256=? AND cancel_requested=0 "
            f"AND ({_NON_TERMINAL} OR (status='succeeded' AND finished_at>=?)) ORDER BY created_at DESC LIMIT 1",
            (request_sha256, since),
        ).fetchone()
        if found is None:
            return None
        twin = self._decode(found)
        twin.deduplicated = True
        return twin

    @_guarded
    def by_idempotency_key(self, key: str) -> JobRow | None:
        row = self.db.execute("SELECT * FROM jobs WHERE idempotency_key=?", (key,)).fetchone()
        return self._decode(row) if row else None

    @_guarded
    def list(self, status: str | None = None, limit: int = 20) -> list[JobRow]:
        if status:
            rows = self.db.execute(
                "SELECT * FROM jobs WHERE status=? ORDER BY created_at DESC LIMIT ?", (status, limit)
            ).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [self._decode(r) for r in rows]

    @_guarded
    def update(self, job_id: str, owner: str | None, **changes: Any) -> bool:
        """Write changes; with an owner, only while that owner holds the lease. False: nothing written."""
        return self.db.execute(*update_statement(job_id, owner, changes, "?")).rowcount == 1

    @_guarded
    def keep_late_submission(
        self, job_id: str, ref: str, state: dict[str, Any], message: str, cost_at_least: float = 0.0
    ) -> bool:
        """Keep the provider's id of a job whose submit was answered after this process lost the job (its lease
        ran out meanwhile), whatever its state now, unless the job already has one: the provider made and charges
        that job, so the person must be able to find it; its estimate raised to `cost_at_least` (the most the
        provider said it may charge), in the same write. False: it had an id already."""
        return (
            self.db.execute(
                LATE_SUBMISSION.replace("%s", "?"), late_params(job_id, ref, state, message, cost_at_least)
            ).rowcount
            == 1
        )

    @_guarded
    def request_cancel(self, job_id: str) -> None:
        # Any process may ask; the one holding the lease acts on it at its next poll.
        self.db.execute(
            f"UPDATE jobs SET cancel_requested=1, message='cancellation requested', updated_at=? "
            f"WHERE job_id=? AND {_CANCELLABLE}",
            (time.time(), job_id),
        )

    # -- provider callbacks ----------------------------------------------------------------------
    @_guarded
    def offer_callback(self, job_id: str, callback: dict[str, Any], accept: Callable[[JobRow], bool]) -> bool:
        """Store a callback for the job's watcher if `accept(row)` says it is news; one transaction, so two
        deliveries at once cannot both pass. Any process may offer (like a cancel request)."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id=?", (job_id,)).fetchone()
            if row is None or not accept(self._decode(row)):
                return False
            db.execute("UPDATE jobs SET callback=? WHERE job_id=?", (json.dumps(callback), job_id))
        return True

    @_guarded
    def take_callback(self, job_id: str, owner: str) -> dict[str, Any] | None:
        """Hand the stored callback to the watcher holding the lease, and clear it."""
        with self._transaction() as db:
            row = db.execute("SELECT callback FROM jobs WHERE job_id=? AND lease_owner=?", (job_id, owner)).fetchone()
            if row is None or row["callback"] is None:
                return None
            db.execute("UPDATE jobs SET callback=NULL WHERE job_id=?", (job_id,))
        return json.loads(row["callback"])

    # -- leases --------------------------------------------------------------------------------
    @_guarded
    def claim(self, job_id: str, owner: str, seconds: float) -> bool:
        """Take the job if nobody holds it, its lease ran out, or its holder is dead."""
        now = time.time()
        with self._transaction() as db:
            row = db.execute(
                f"SELECT lease_owner, lease_expires FROM jobs WHERE job_id=? AND {_NON_TERMINAL}", (job_id,)
            ).fetchone()
            if row is None:
                return False
            holder, expires = row["lease_owner"], row["lease_expires"] or 0.0
            if holder and holder != owner and expires > now and not owner_is_dead(holder):
                return False
            db.execute("UPDATE jobs SET lease_owner=?, lease_expires=? WHERE job_id=?", (owner, now + seconds, job_id))
        return True

    @_guarded
    def hold(self, job_id: str, owner: str, seconds: float) -> bool:
        """Renew this job's lease if `owner` still holds it and the job is not finished; False otherwise (another
        process took it over, or ended it). Checked right before anything that could charge twice."""
        cursor = self.db.execute(
            f"UPDATE jobs SET lease_expires=? WHERE job_id=? AND lease_owner=? AND {_NON_TERMINAL}",
            (time.time() + seconds, job_id, owner),
        )
        return cursor.rowcount == 1

    @_guarded
    def renew(self, owner: str, seconds: float) -> int:
        cursor = self.db.execute(
            f"UPDATE jobs SET lease_expires=? WHERE lease_owner=? AND {_NON_TERMINAL}", (time.time() + seconds, owner)
        )
        return cursor.rowcount

    @_guarded
    def release(self, owner: str, job_id: str | None = None) -> None:
        sql, params = "UPDATE jobs SET lease_owner=NULL, lease_expires=NULL WHERE lease_owner=?", [owner]
        if job_id is not None:
            sql += " AND job_id=?"
            params.append(job_id)
        self.db.execute(sql, params)

    @_guarded
    def orphans(self, owner: str) -> builtins.list[str]:
        """Unfinished jobs that no live process is watching."""
        now = time.time()
        rows = self.db.execute(
            f"SELECT job_id, lease_owner, lease_expires FROM jobs WHERE {_NON_TERMINAL} "
            "AND (lease_owner IS NULL OR lease_owner != ?) ORDER BY created_at",
            (owner,),
        ).fetchall()
        return [
            r["job_id"]
            for r in rows
            if r["lease_owner"] is None or (r["lease_expires"] or 0) <= now or owner_is_dead(r["lease_owner"])
        ]
