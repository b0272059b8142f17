"""What every provider simulator shares: simulated time, a job table, counters, a real MP4 to serve,
and a way to run an app on loopback for tests and benchmarks.

Each simulator is an ASGI app that speaks its provider's documented wire format. Tests steer outcomes
through the prompt, the way a person would trigger them at a real provider:
  "sim:fail=content"   the job fails a content check     "sim:fail=internal"  the job fails inside
  "sim:seconds=N"      the job takes N simulated seconds  "sim:queue=N"        it waits N seconds in a queue
and read what happened at `GET /_sim/stats` (submissions accepted, status requests, callbacks and downloads
per job).

A submit that names a callback URL gets the provider's callbacks POSTed in simulated time, from a background
task, with the provider's documented retries (their spacing scaled by the speed): see `Simulator.call_back`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_DIRECTIVE = re.compile(r"sim:(\w+)=([\w.]+)")
FINAL = ("succeeded", "failed", "cancelled")
CALLBACK_TIMEOUT = 10.0  # real seconds a receiver gets to answer one callback
# The ids of jobs created while handling the current request, for the fault injector (see faults.py).
created_here: ContextVar[list[str] | None] = ContextVar("sim_created_here", default=None)


def directives(prompt: str | None) -> dict[str, str]:
    return dict(_DIRECTIVE.findall(prompt or ""))


@dataclass
class SimJob:
    id: str
    payload: dict[str, Any]
    created: float  # wall clock, seconds
    queue_seconds: float  # real seconds, speed applied
    run_seconds: float
    fail: str | None = None  # "content" | "internal" | None
    cancelled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def phase(self, now: float | None = None) -> tuple[str, float]:
        """("queued" | "running" | "succeeded" | "failed" | "cancelled", progress 0..1)."""
        if self.cancelled:
            return "cancelled", 0.0
        elapsed = (time.time() if now is None else now) - self.created
        if elapsed < self.queue_seconds:
            return "queued", 0.0
        running = elapsed - self.queue_seconds
        if running < self.run_seconds:
            return "running", running / self.run_seconds
        return ("failed", 1.0) if self.fail else ("succeeded", 1.0)

    def passed(self) -> list[str]:
        """Every phase the job has been through, in order, up to the current one."""
        phase, _ = self.phase()
        if phase == "cancelled":
            return [phase]
        order = ["queued", "running", phase] if phase in FINAL else ["queued", "running"]
        return order[: order.index(phase) + 1]

    def until_change(self) -> float:
        """Real seconds until the phase changes on its own (a cancel may change it sooner)."""
        elapsed = time.time() - self.created
        for boundary in (self.queue_seconds, self.queue_seconds + self.run_seconds):
            if elapsed < boundary:
                return boundary - elapsed
        return 0.0


class Simulator:
    """A provider's job table and clock. `speed` > 1 makes simulated minutes pass in real seconds."""

    def __init__(self, name: str, *, speed: float = 1.0, typical_seconds: float = 60.0, queue_seconds: float = 5.0):
        self.name = name
        self.speed = speed
        self.typical_seconds = typical_seconds
        self.queue_seconds = queue_seconds
        self.jobs: dict[str, SimJob] = {}
        self.submissions = 0
        self.polls: Counter[str] = Counter()
        self.callbacks: Counter[str] = Counter()  # callback POSTs made per job (retries included)
        self.callbacks_delivered: Counter[str] = Counter()  # ... of which the receiver answered 2xx
        self.downloads: Counter[str] = Counter()
        self.config: dict[str, Any] = {}  # test switches, e.g. {"credits": 0}
        self.lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()  # callback senders, kept so they are not collected

    def create(
        self, payload: dict[str, Any], *, prompt: str | None, job_id: str | None = None, seconds: float | None = None
    ) -> SimJob:
        """Accept a job: counts as one submission (what tests check for double submits)."""
        steer = directives(prompt)
        simulated = float(steer.get("seconds", seconds if seconds is not None else self.typical_seconds))
        queued = float(steer.get("queue", self.queue_seconds))
        job = SimJob(
            id=job_id or secrets.token_hex(12),
            payload=payload,
            created=time.time(),
            queue_seconds=queued / self.speed,
            run_seconds=max(simulated / self.speed, 0.001),
            fail=steer.get("fail"),
        )
        with self.lock:
            self.jobs[job.id] = job
            self.submissions += 1
        if (bucket := created_here.get()) is not None:
            bucket.append(job.id)
        return job

    def get(self, job_id: str) -> SimJob | None:
        job = self.jobs.get(job_id)
        if job is not None:
            self.polls[job_id] += 1
        return job

    def stats(self) -> dict[str, Any]:
        return {
            "submissions": self.submissions,
            "jobs": len(self.jobs),
            "polls": dict(self.polls),
            "callbacks": dict(self.callbacks),
            "callbacks_delivered": dict(self.callbacks_delivered),
            "downloads": dict(self.downloads),
        }

    # -- callbacks ---------------------------------------------------------------------------------
    def call_back(
        self,
        job: SimJob,
        url: str,
        body: Callable[[SimJob, str], Awaitable[dict[str, Any]]],
        *,
        on: tuple[str, ...],
        attempts: int,
        spacing: float,
    ) -> None:
        """POST `body(job, phase)` to `url` when the job reaches each phase in `on`, in simulated time, from a
        background task on the serving event loop (request handling never waits for it). A delivery that
        fails (no 2xx) is tried again `attempts` times in all, `spacing` simulated seconds apart."""
        job.extra["callback_url"] = url
        self._spawn(self._announce(job, url, body, on, attempts, spacing))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(
        self,
        job: SimJob,
        url: str,
        body: Callable[[SimJob, str], Awaitable[dict[str, Any]]],
        on: tuple[str, ...],
        attempts: int,
        spacing: float,
    ) -> None:
        announced: set[str] = set()
        while True:
            passed = job.passed()
            for phase in passed:
                if phase in on and phase not in announced:
                    announced.add(phase)
                    # Each delivery retries on its own, so a late retry may arrive after a newer state.
                    self._spawn(self._deliver(job, url, await body(job, phase), attempts, spacing))
            if passed[-1] in FINAL:
                return
            await asyncio.sleep(min(max(job.until_change(), 0.001), 0.5))  # looks again for a cancel

    async def _deliver(self, job: SimJob, url: str, body: dict[str, Any], attempts: int, spacing: float) -> None:
        import httpx

        job.extra.setdefault("callbacks_sent", []).append(body)
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT) as client:
            for attempt in range(attempts):
                if attempt:
                    await asyncio.sleep(spacing / self.speed)
                self.callbacks[job.id] += 1
                try:
                    response = await client.post(url, json=body)
                except httpx.HTTPError:
                    continue
                if response.is_success:
                    self.callbacks_delivered[job.id] += 1
                    return

    def routes(self) -> list[Route]:
        """Test-only routes under /_sim: stats, config switches, and the finished videos."""

        async def stats(_: Request) -> Response:
            return JSONResponse(self.stats())

        async def configure(request: Request) -> Response:
            self.config.update(await request.json())
            return JSONResponse(self.config)

        async def video(request: Request) -> Response:
            job = self.jobs.get(request.path_params["job_id"])
            if job is None or job.extra.get("deleted") or job.phase()[0] != "succeeded":
                return JSONResponse({"error": "not found"}, status_code=404)
            duration = float(job.extra.get("duration", 5))
            ratio = str(job.extra.get("aspect_ratio", "16:9"))
            self.downloads[job.id] += 1
            return Response(sample_video(duration, ratio), media_type="video/mp4")

        return [
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/config", configure, methods=["POST"]),
            Route("/_sim/videos/{job_id}.mp4", video, methods=["GET"]),
        ]


def public_root(request: Request) -> str:
    """This simulator's absolute root URL as the request reached it (its mount point included)."""
    root = str(request.base_url).rstrip("/")
    mount = request.scope.get("root_path", "")
    if mount and not root.endswith(mount):
        root += mount
    return root


def video_url(where: Request | str, job: SimJob) -> str:
    """The absolute URL of a finished job's MP4 on this simulator (as a CDN link would be); `where` is the
    request being answered, or the simulator's root (for a callback sent later, outside any request)."""
    root = where if isinstance(where, str) else public_root(where)
    return f"{root}/_sim/videos/{job.id}.mp4?token={secrets.token_hex(8)}"


@lru_cache(maxsize=32)
def sample_video(duration: float, aspect_ratio: str) -> bytes:
    """A real, small H.264 MP4 of the given length and shape (rendered once, then cached)."""
    import tempfile
    from pathlib import Path

    from providers.demo import render_video

    w_ratio, h_ratio = (float(x) for x in aspect_ratio.split(":"))
    short = 144
    width, height = (
        (round(short * w_ratio / h_ratio), short) if w_ratio >= h_ratio else (short, round(short * h_ratio / w_ratio))
    )
    width, height = width + width % 2, height + height % 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.mp4"
        render_video(
            path, prompt="simulated provider output", duration=duration, width=width, height=height, seed=1, fps=12
        )
        return path.read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread; yield its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("simulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
