"""Fault injection for the simulators: `--faults "429=0.2,503=0.1,timeout=0.05,reset=0.05,malformed=0.05,
stuck=0.02,expired_url=0.05"`, rates per request of each kind (`submit`, `status`, `cancel`, `download`).

A rate may name a kind (`status.503=0.3`); without one it applies to every kind the fault makes sense for.
Refusals (429 with Retry-After, 503) happen before the simulator sees the request: nothing is created.
`timeout`, `reset` and `malformed` happen after it ran, so a submit may have created (and charged) a job
whose answer is lost: the case where resending would pay twice. `stuck` freezes the job a submit just
created; `expired_url` answers a video download with 403, as an expired signed URL does.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import anyio
from starlette.types import Message, Receive, Scope, Send

from providers.simulators.common import created_here

FAULTS = {
    "429": ("submit", "status", "cancel"),
    "503": ("submit", "status", "cancel"),
    "timeout": ("submit", "status", "cancel"),
    "reset": ("submit", "status", "cancel"),
    "malformed": ("submit", "status"),
    "stuck": ("submit",),
    "expired_url": ("download",),
}
KINDS = ("submit", "status", "cancel", "download")


class FaultPlan:
    """Which fault, if any, each request gets. Seeded, so a run can be repeated."""

    def __init__(
        self, spec: str | dict[str, float] = "", *, seed: int = 0, hang_seconds: float = 65.0, speed: float = 1.0
    ):
        self.rates: dict[tuple[str, str], float] = {}
        self.hang_seconds = hang_seconds
        # "Retry after 1 s" in the simulator's time, like every other duration it serves.
        self.retry_after = f"{1.0 / speed:g}"
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        items = spec.items() if isinstance(spec, dict) else (_pair(part) for part in spec.split(",") if part.strip())
        for name, rate in items:
            if name == "hang":
                self.hang_seconds = float(rate)
                continue
            kind, _, fault = name.rpartition(".")
            if fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}, and hang=SECONDS")
            kinds = (kind,) if kind else FAULTS[fault]
            for k in kinds:
                if k not in FAULTS[fault]:
                    raise ValueError(f"fault {fault!r} does not apply to {k!r} requests; it applies to {FAULTS[fault]}")
                self.rates[(k, fault)] = float(rate)

    def pick(self, kind: str) -> str | None:
        roll = self.rng.random()
        for (k, fault), rate in self.rates.items():
            if k != kind:
                continue
            if roll < rate:
                return fault
            roll -= rate
        return None


def _pair(part: str) -> tuple[str, float]:
    name, _, rate = part.strip().partition("=")
    try:
        return name.strip(), float(rate)
    except ValueError:
        raise ValueError(f"bad fault {part!r}: write NAME=RATE, e.g. 429=0.2") from None


def request_kind(method: str, path: str) -> str | None:
    if path.startswith("/_sim/videos/"):
        return "download"
    if path.startswith("/_sim/"):
        return None  # the test switches are never faulted
    if (method == "POST" and path.endswith("/cancel")) or method in ("DELETE", "PUT"):
        return "cancel"
    return "submit" if method == "POST" else "status"


def _local_path(scope: Scope) -> str:
    """The path inside the mounted simulator (Starlette keeps the mount prefix in `path`)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class FaultInjector:
    """ASGI middleware around one simulator app."""

    def __init__(self, app: Any, plan: FaultPlan):  # a simulator app: ASGI, with `.state.sim`
        self.app = app
        self.plan = plan
        self.state = app.state  # the simulator stays reachable as app.state.sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = request_kind(scope.get("method", ""), _local_path(scope)) if scope["type"] == "http" else None
        fault = self.plan.pick(kind) if kind and self.plan.rates else None
        if fault is None:
            return await self.app(scope, receive, send)
        self.plan.injected[f"{kind}.{fault}"] += 1
        if fault in ("429", "503"):
            headers = [(b"retry-after", self.plan.retry_after.encode())] if fault == "429" else []
            return await _respond(send, int(fault), {"error": f"simulated {fault}"}, headers)
        if fault == "expired_url":
            return await _respond(send, 403, {"error": "the signed URL has expired"})
        sim = self.state.sim
        response = _Captured()
        token = created_here.set([])
        try:
            await self.app(scope, receive, response)
            created = created_here.get() or []
        finally:
            created_here.reset(token)
        if fault == "stuck":
            for job_id in created:  # only the job this very request made, not a concurrent one's
                sim.jobs[job_id].run_seconds = float("inf")
            if not created:  # nothing was made here (refused, or an idempotent replay): nothing froze
                self.plan.injected[f"{kind}.{fault}"] -= 1
            return await response.replay(send)
        if fault == "timeout":
            await anyio.sleep(self.plan.hang_seconds)  # longer than the client waits
            return await response.replay(send)
        if fault == "malformed":
            return await _respond(send, response.status, None, raw=b'{"id": "trunc')
        # reset: the status line and half the promised body, then the connection drops.
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": response.body[:10], "more_body": True})
        raise ConnectionResetError("simulated reset")


class _Captured:
    """Collects the wrapped app's response so a fault can replay, change or cut it."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status, self.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def replay(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def _respond(
    send: Send, status: int, body: Any, headers: Sequence[tuple[bytes, bytes]] = (), raw: bytes = b""
) -> None:
    payload = raw or json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
