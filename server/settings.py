"""One Settings object, read from the environment once. Paths follow platformdirs conventions."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field

from providers.base import Tuning
from server.budget import Limits

APP = "videogen"


def _default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP, appauthor=False)


def _default_output_dir() -> Path:
    from platformdirs import user_videos_path

    return user_videos_path() / APP


def _default_image_dirs() -> list[Path]:
    """The user's Pictures and Downloads folders, where people keep images. Never the working folder:
    a server started from / would read any image on the machine. A folder that is the home folder or
    above it (user-dirs.dirs maps a disabled folder to $HOME) would open ~/.ssh, so it is left out."""
    from platformdirs import user_downloads_path, user_pictures_path

    home = Path.home().resolve()
    folders = [user_pictures_path().resolve(), user_downloads_path().resolve()]
    return [folder for folder in folders if not home.is_relative_to(folder)]


class SettingsError(ValueError):
    """A setting in the environment has a value we cannot use."""


@dataclass(frozen=True)
class Number:
    """One VIDEOGEN_* number and what it may be. `default` None: unset means what `unset` says (a limit that is
    off, or the reader's own default)."""

    name: str
    default: float | None
    minimum: float = 0.0
    unit: str = ""
    above: bool = False  # the minimum itself is not allowed (a scale or a timeout of 0)
    unset: str = ""

    def allowed(self) -> str:
        """What may be set, in words: `a number of seconds, at least 0.05 (unset: 3)`."""
        of = f" of {self.unit}" if self.unit else ""
        bound = f"above {self.minimum:g}" if self.above else f"at least {self.minimum:g}"
        return f"a number{of}, {bound} (unset: {self.unset or f'{self.default:g}'})"

    def read(self, env: Mapping[str, str]) -> float | None:
        raw = env.get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            value = float(raw)
        except ValueError:
            problem = "is not a number"
        else:
            if not math.isfinite(value):
                problem = "is not a finite number"
            elif value < self.minimum or (self.above and value == self.minimum):
                problem = "is too small"
            else:
                return value
        raise SettingsError(f"{self.name}={raw!r} {problem}; allowed: {self.allowed()}")


# Every VIDEOGEN_* number the server, its transports and the providers use, parsed here and only here when
# Settings is made: a bad value stops the start with one line, not the first job. The providers get theirs (the
# last three) as Settings.tuning; the transports get VIDEOGEN_MAX_REQUEST_MB as Settings.max_request_bytes.
NUMBERS: dict[str, Number] = {
    n.name: n
    for n in (
        Number("VIDEOGEN_WAIT_SECONDS", 45.0, unit="seconds"),
        Number("VIDEOGEN_MAX_WAIT_SECONDS", 300.0, unit="seconds"),
        Number("VIDEOGEN_HEARTBEAT_SECONDS", 3.0, 0.05, "seconds"),
        Number("VIDEOGEN_LEASE_SECONDS", 30.0, 0.5, "seconds"),
        Number("VIDEOGEN_STORE_BUSY_SECONDS", 10.0, 0.01, "seconds"),
        Number("VIDEOGEN_DEDUPE_SECONDS", 600.0, unit="seconds (0: off)"),
        Number("VIDEOGEN_POLL_SCALE", 1.0, 0.0001),
        Number("VIDEOGEN_STUCK_SECONDS", None, unit="seconds", unset="10 times the model's typical time"),
        Number("VIDEOGEN_MAX_DOWNLOAD_MB", 2048, 1, "MB"),
        Number("VIDEOGEN_LINK_TTL_SECONDS", 86400.0, 1, "seconds"),
        Number("VIDEOGEN_RESOURCE_MAX_MB", 25, 0, "MB"),
        # 80: room for the most images a request may carry as data URIs (why: server/transport.py). 0.001: 1 KB.
        Number("VIDEOGEN_MAX_REQUEST_MB", 80, 0.001, "MB"),
        Number("VIDEOGEN_MAX_COST_PER_JOB", None, unit="USD", unset="no limit"),
        Number("VIDEOGEN_DAILY_BUDGET", None, unit="USD", unset="no limit"),
        Number("VIDEOGEN_CONFIRM_ABOVE", None, unit="USD", unset="never ask"),
        Number("VIDEOGEN_RETRY_SCALE", 1.0, above=True),
        Number("VIDEOGEN_HTTP_TIMEOUT", None, unit="seconds", above=True, unset="the providers' own"),
        Number("VIDEOGEN_DEMO_LATENCY", None, unit="seconds", unset="the demo's own"),
    )
}


def max_request_bytes(env: Mapping[str, str]) -> int:
    """VIDEOGEN_MAX_REQUEST_MB in bytes: the largest request (HTTP body or stdio line) a transport takes."""
    return int(_read(env, "VIDEOGEN_MAX_REQUEST_MB") * 1024 * 1024)


def provider_tuning(env: Mapping[str, str]) -> Tuning:
    """The providers' numbers (Settings.tuning). Raises SettingsError naming the variable."""
    return Tuning(
        retry_scale=_read(env, "VIDEOGEN_RETRY_SCALE"),
        http_timeout=NUMBERS["VIDEOGEN_HTTP_TIMEOUT"].read(env),
        demo_latency=NUMBERS["VIDEOGEN_DEMO_LATENCY"].read(env),
    )


def _read(env: Mapping[str, str], name: str) -> float:
    value = NUMBERS[name].read(env)
    assert value is not None, f"{name} has no default"
    return value


def _public_url(env: Mapping[str, str], name: str) -> str | None:
    """Where providers reach this server from outside: an http(s) root, kept without a trailing slash."""
    from urllib.parse import urlsplit

    raw = env.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"{name}={raw!r} must be an http(s) URL without a query, such as https://videogen.example.com"
        )
    return raw.rstrip("/")


ResultLinks = Literal["none", "file"]
RESULT_LINKS: tuple[str, ...] = get_args(ResultLinks)


def result_links(value: str | None) -> ResultLinks:
    """VIDEOGEN_RESULT_LINKS: 'none' (the default) or 'file'. Anything else is a startup error saying why."""
    text = (value or "none").strip().lower()
    if text not in RESULT_LINKS:
        raise SettingsError(
            f"VIDEOGEN_RESULT_LINKS={value!r} is not valid; use 'none' (no links in tool results, safe for every "
            "framework) or 'file' (also a file:// link to the video, for local stdio clients that read files)"
        )
    return text  # type: ignore[return-value]


def database_url(raw: str | None) -> str | None:
    """VIDEOGEN_DATABASE_URL: a postgresql:// (or postgres://) URL, or unset for the embedded SQLite index."""
    url = (raw or "").strip()
    if not url:
        return None
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres"):
        # Never echo the value: it may hold a password.
        shown = f"{scheme}://..." if sep else "a value without a scheme"
        raise SettingsError(
            f"VIDEOGEN_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/dbname), "
            f"not {shown}; unset it to keep the job index in SQLite"
        )
    return url


class Settings(BaseModel):
    data_dir: Path = Field(description="where the job index lives (VIDEOGEN_DATA_DIR)")
    output_dir: Path = Field(description="where videos and thumbnails land (VIDEOGEN_OUTPUT_DIR)")
    allowed_dirs: list[Path] = Field(description="folders local image paths may be read from (VIDEOGEN_ALLOWED_DIRS)")
    default_provider: str | None = Field(None, description="VIDEOGEN_DEFAULT_PROVIDER")
    wait_seconds: float = Field(45.0, description="how long a tool call waits before returning a running job")
    max_wait_seconds: float = 300.0
    heartbeat_seconds: float = Field(3.0, description="progress notification interval while a call waits")
    lease_seconds: float = Field(30.0, description="how long a job stays claimed by a process without renewal")
    store_busy_seconds: float = Field(
        10.0, description="how long an index write waits for another process's lock (VIDEOGEN_STORE_BUSY_SECONDS)"
    )
    dedupe_seconds: float = Field(
        600.0,
        description="an identical request (no idempotency key) within this long after its twin finished returns the "
        "twin instead of starting another job; 0 turns this off (VIDEOGEN_DEDUPE_SECONDS)",
    )
    stuck_seconds: float | None = Field(None, description="a job running longer is stuck (default: 10x typical)")
    poll_scale: float = Field(1.0, description="multiplier on every provider's polling interval (tests: 0.01)")
    max_download_bytes: int = 2 * 1024**3
    public_url: str | None = Field(
        None,
        description="where providers and clients reach this HTTP server: job callbacks and download links "
        "(VIDEOGEN_PUBLIC_URL)",
    )
    link_ttl_seconds: float = Field(86400.0, description="how long a download link stays valid")
    resource_max_bytes: int = Field(
        25 * 1024 * 1024, description="the largest video readable as an MCP resource (VIDEOGEN_RESOURCE_MAX_MB)"
    )
    max_request_bytes: int = Field(description="the largest request a transport takes (VIDEOGEN_MAX_REQUEST_MB)")
    tuning: Tuning = Field(
        default_factory=Tuning,
        description="the providers' numbers: VIDEOGEN_RETRY_SCALE, VIDEOGEN_HTTP_TIMEOUT, VIDEOGEN_DEMO_LATENCY",
    )
    limits: Limits = Field(default_factory=Limits, description="spending limits set by the person")
    result_links: ResultLinks = Field(
        "none", description="links in tool results: none, or file (the video as file://, for local stdio clients)"
    )
    database_url: str | None = Field(
        None,
        repr=False,
        exclude=True,  # it may hold a password
        description="the job index in PostgreSQL, shared by replicas (VIDEOGEN_DATABASE_URL); unset: SQLite",
    )
    env: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def index_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from `env` (default: this process's). A value that cannot be used raises SettingsError."""
        env = dict(os.environ if env is None else env)
        data_dir = Path(env["VIDEOGEN_DATA_DIR"]).expanduser() if env.get("VIDEOGEN_DATA_DIR") else _default_data_dir()
        output_dir = (
            Path(env["VIDEOGEN_OUTPUT_DIR"]).expanduser() if env.get("VIDEOGEN_OUTPUT_DIR") else _default_output_dir()
        )
        if env.get("VIDEOGEN_ALLOWED_DIRS"):
            allowed = [Path(p).expanduser() for p in env["VIDEOGEN_ALLOWED_DIRS"].split(os.pathsep) if p.strip()]
        else:
            allowed = [output_dir, *_default_image_dirs()]
        # Inputs given as data URIs are kept in the data folder so a resumed job still has them.
        allowed.append(data_dir / "inputs")
        return cls(
            data_dir=data_dir.resolve(),
            output_dir=output_dir.resolve(),
            allowed_dirs=[p.resolve() for p in allowed],
            default_provider=env.get("VIDEOGEN_DEFAULT_PROVIDER") or None,
            wait_seconds=_read(env, "VIDEOGEN_WAIT_SECONDS"),
            max_wait_seconds=_read(env, "VIDEOGEN_MAX_WAIT_SECONDS"),
            heartbeat_seconds=_read(env, "VIDEOGEN_HEARTBEAT_SECONDS"),
            lease_seconds=_read(env, "VIDEOGEN_LEASE_SECONDS"),
            store_busy_seconds=_read(env, "VIDEOGEN_STORE_BUSY_SECONDS"),
            dedupe_seconds=_read(env, "VIDEOGEN_DEDUPE_SECONDS"),
            poll_scale=_read(env, "VIDEOGEN_POLL_SCALE"),
            stuck_seconds=NUMBERS["VIDEOGEN_STUCK_SECONDS"].read(env),
            max_download_bytes=int(_read(env, "VIDEOGEN_MAX_DOWNLOAD_MB") * 1024 * 1024),
            public_url=_public_url(env, "VIDEOGEN_PUBLIC_URL"),
            link_ttl_seconds=_read(env, "VIDEOGEN_LINK_TTL_SECONDS"),
            resource_max_bytes=int(_read(env, "VIDEOGEN_RESOURCE_MAX_MB") * 1024 * 1024),
            max_request_bytes=max_request_bytes(env),
            tuning=provider_tuning(env),
            result_links=result_links(env.get("VIDEOGEN_RESULT_LINKS")),
            limits=Limits(
                max_cost_per_job=NUMBERS["VIDEOGEN_MAX_COST_PER_JOB"].read(env),
                daily_budget=NUMBERS["VIDEOGEN_DAILY_BUDGET"].read(env),
                confirm_above=NUMBERS["VIDEOGEN_CONFIRM_ABOVE"].read(env),
            ),
            database_url=database_url(env.get("VIDEOGEN_DATABASE_URL")),
            env=env,
        )

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.output_dir, self.data_dir / "inputs"):
            path.mkdir(parents=True, exist_ok=True)
