"""Shared fixtures: an isolated environment per test (its own index and output folder) with short timings."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

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


# -- PostgreSQL: a throwaway cluster per test session, a fresh database per test -----------------------------

PG_PASSWORD = "pg-Secret-7f3a9c"  # the test role's password: tests check it never shows in an error


@dataclass
class PostgresServer:
    """A PostgreSQL server tests may create databases on: `admin` connects with rights to CREATE DATABASE,
    `url(name)` is the URL a store under test gets (with a password, over TCP)."""

    admin: str
    base_url: str  # postgresql://user:password@host:port/ ; a database name is appended
    stop: Callable[[], None] = lambda: None

    def url(self, dbname: str) -> str:
        return self.base_url + dbname


def pg_missing(reason: str) -> NoReturn:
    """Skip on a developer's machine without PostgreSQL; in CI (.ci/run installs it) that is a failure."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (CI installs it: see .ci/run)")
    pytest.skip(reason)


def _initdb() -> str | None:
    found = shutil.which("initdb")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cluster() -> PostgresServer:
    initdb = _initdb()
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin)")
    bindir = Path(initdb).parent
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="videogen-pg-"))
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            raise RuntimeError("running as root and there is no `postgres` OS user to run PostgreSQL as") from None
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, sockets, port = folder / "data", folder / "sockets", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()[-800:]}")

    try:
        run("mkdir", "-p", str(sockets))
        pwfile = folder / "pw"
        run("sh", "-c", f"umask 077; printf '%s' '{PG_PASSWORD}' > {pwfile}")
        run(
            str(initdb), "-D", str(data), "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
        )  # fmt: skip
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    except BaseException:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)

    return PostgresServer(
        admin=f"host={sockets} port={port} user=postgres dbname=postgres",
        base_url=f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{port}/",
        stop=stop,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """VIDEOGEN_TEST_DATABASE_URL's server when set (its user must be allowed to CREATE DATABASE), else a
    throwaway cluster started here and deleted at the end. Without either the test skips (fails in CI)."""
    try:
        import psycopg
    except ImportError:
        pg_missing("psycopg is not installed: pip install -e '.[test]'")
    given = os.environ.get("VIDEOGEN_TEST_DATABASE_URL")
    if given:
        base = given.rsplit("/", 1)[0] + "/" if given.count("/") >= 3 else given.rstrip("/") + "/"
        yield PostgresServer(admin=given, base_url=base)
        return
    try:
        server = _start_cluster()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        pg_missing(f"no PostgreSQL for the tests: {error}")
    try:
        with psycopg.connect(server.admin, connect_timeout=10):
            pass
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for this test (dropped afterwards)."""
    import psycopg

    name = f"videogen_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield postgres_server.url(name)
    finally:
        with psycopg.connect(postgres_server.admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@dataclass
class Backend:
    """One job-index backend for a test: `open()` a store on it (each call a new store, as another process
    would have), `env` what Settings need to use it."""

    name: str
    path: Path
    url: str | None = None
    opened: list[Any] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"VIDEOGEN_DATABASE_URL": self.url} if self.url else {}

    def open(self, **kwargs: Any) -> Any:
        if self.url:
            from server.store_pg import PostgresJobStore

            store: Any = PostgresJobStore(self.url, **kwargs)
        else:
            from server.store import JobStore

            store = JobStore(self.path, **kwargs)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Run the test on the SQLite index and on PostgreSQL."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    chosen = Backend(request.param, tmp_path / "data" / "jobs.sqlite3", url)
    yield chosen
    for store in chosen.opened:
        store.close()
