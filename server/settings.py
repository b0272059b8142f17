"""One Settings object, read from the environment once. Paths follow platformdirs conventions."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, Field

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


def _number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; set a number such as {default:g}, or unset it") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} must be a finite number, such as {default:g}")
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _optional(env: Mapping[str, str], name: str) -> float | None:
    return _number(env, name, 0.0) if env.get(name, "").strip() else None


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
    limits: Limits = Field(default_factory=Limits, description="spending limits set by the person")
    result_links: ResultLinks = Field(
        "none", description="links in tool results: none, or file (the video as file://, for local stdio clients)"
    )
    env: dict[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def index_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
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
            wait_seconds=_number(env, "VIDEOGEN_WAIT_SECONDS", 45.0),
            max_wait_seconds=_number(env, "VIDEOGEN_MAX_WAIT_SECONDS", 300.0),
            heartbeat_seconds=_number(env, "VIDEOGEN_HEARTBEAT_SECONDS", 3.0, minimum=0.05),
            lease_seconds=_number(env, "VIDEOGEN_LEASE_SECONDS", 30.0, minimum=0.5),
            store_busy_seconds=_number(env, "VIDEOGEN_STORE_BUSY_SECONDS", 10.0, minimum=0.01),
            dedupe_seconds=_number(env, "VIDEOGEN_DEDUPE_SECONDS", 600.0),
            poll_scale=_number(env, "VIDEOGEN_POLL_SCALE", 1.0, minimum=0.0001),
            stuck_seconds=_optional(env, "VIDEOGEN_STUCK_SECONDS"),
            max_download_bytes=int(_number(env, "VIDEOGEN_MAX_DOWNLOAD_MB", 2048, minimum=1) * 1024 * 1024),
            public_url=_public_url(env, "VIDEOGEN_PUBLIC_URL"),
            link_ttl_seconds=_number(env, "VIDEOGEN_LINK_TTL_SECONDS", 86400.0, minimum=1),
            resource_max_bytes=int(_number(env, "VIDEOGEN_RESOURCE_MAX_MB", 25, minimum=0) * 1024 * 1024),
            result_links=result_links(env.get("VIDEOGEN_RESULT_LINKS")),
            limits=Limits(
                max_cost_per_job=_optional(env, "VIDEOGEN_MAX_COST_PER_JOB"),
                daily_budget=_optional(env, "VIDEOGEN_DAILY_BUDGET"),
                confirm_above=_optional(env, "VIDEOGEN_CONFIRM_ABOVE"),
            ),
            env=env,
        )

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.output_dir, self.data_dir / "inputs"):
            path.mkdir(parents=True, exist_ok=True)
