"""Tell listening clients that a job changed, on both protocol eras, without ever making a job wait.

2026-07-28 clients open `subscriptions/listen` streams, served by the SDK from its subscription bus; we
publish to that bus. `InMemorySubscriptionBus.publish` hands each event to every listen stream with
`send_nowait` into that stream's bounded buffer, and the SDK ends a stream whose buffer is full, so a listen
stream that stopped reading cannot block it.

Older clients send `resources/subscribe`, which MCPServer does not serve: we keep one `_Subscriber` per client
connection here. `job_changed` only notes the URI in that subscriber's small queue (repeats coalesce, the
oldest is dropped when full: an update names a URI to refetch, so nothing is lost that a read won't bring
back) and a sender task per subscriber does the sending. A subscriber whose client takes longer than
`stall_seconds` to take one notification is dropped, and so is every subscriber whose connection closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from server.store import JobRow

log = logging.getLogger("videogen.notify")

JOBS_URI = "videogen://jobs"
QUEUE_SIZE = 64  # URIs waiting per subscriber
MAX_URIS = 1000  # subscriptions per connection
STALL_SECONDS = 30.0  # longest wait for one send before the subscriber is dropped
_STATE_KEY = "videogen.notify"  # marks a connection whose close we already watch


def job_uri(job_id: str) -> str:
    return f"{JOBS_URI}/{job_id}"


def _connection(ctx: Any) -> Any:
    """The client's connection. `ctx.session` is a proxy made afresh for every request, so it can neither
    identify a subscriber across requests nor tell when the client went away; its Connection can."""
    return getattr(ctx.session, "_connection", None) or ctx.session


class _Subscriber:
    def __init__(self, connection: Any):
        self.connection = connection
        self.uris: set[str] = set()
        self.pending: dict[str, None] = {}  # an ordered set: oldest first, repeats coalesce
        self.group: anyio.abc.TaskGroup | None = None  # where its sender runs, while it runs
        self.scope: anyio.CancelScope | None = None


class JobNotifier:
    def __init__(
        self,
        bus: SubscriptionBus,
        *,
        queue_size: int = QUEUE_SIZE,
        stall_seconds: float = STALL_SECONDS,
        max_uris: int = MAX_URIS,
    ):
        self.bus = bus
        self.queue_size = queue_size
        self.stall_seconds = stall_seconds
        self.max_uris = max_uris
        self._subscribers: dict[Any, _Subscriber] = {}  # connection -> its subscriptions
        self._groups: list[anyio.abc.TaskGroup] = []

    @property
    def subscribers(self) -> int:
        """Connections holding subscriptions now."""
        return len(self._subscribers)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[JobNotifier]:
        """Senders run inside this. It may be entered several times at once (SSE enters the server's
        lifespan once per connection); senders start in the newest entry still open."""
        async with anyio.create_task_group() as tg:
            self._groups.append(tg)
            try:
                yield self
            finally:
                self._groups.remove(tg)
                tg.cancel_scope.cancel()  # their subscribers keep their queue: a later change restarts a sender

    # -- requests ------------------------------------------------------------------------------------
    async def subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        connection = _connection(ctx)
        if not getattr(connection, "has_standalone_channel", True):
            raise MCPError(
                INVALID_REQUEST,
                "this connection cannot carry notifications: use subscriptions/listen (protocol 2026-07-28)",
            )
        sub = self._subscribers.get(connection)
        if sub is None:
            sub = self._subscribers[connection] = _Subscriber(connection)
            state = getattr(connection, "state", None)
            if state is not None and not state.get(_STATE_KEY):
                state[_STATE_KEY] = True
                connection.exit_stack.callback(self._forget, connection, "its connection closed")
        uri = str(params.uri)
        if uri not in sub.uris and len(sub.uris) >= self.max_uris:
            raise MCPError(
                INVALID_PARAMS,
                f"this connection already has {self.max_uris} subscriptions: unsubscribe some, or subscribe to "
                f"{JOBS_URI} to hear of every job",
            )
        sub.uris.add(uri)
        return EmptyResult()

    async def unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        sub = self._subscribers.get(_connection(ctx))
        if sub is not None:
            uri = str(params.uri)
            sub.uris.discard(uri)
            sub.pending.pop(uri, None)
            if not sub.uris:
                self._forget(sub.connection, "it unsubscribed from everything")
        return EmptyResult()

    # -- publishing ----------------------------------------------------------------------------------
    async def job_changed(self, row: JobRow) -> None:
        """Called by the engine for every change: returns without waiting on any client."""
        uris = (job_uri(row.job_id), JOBS_URI)
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for sub in list(self._subscribers.values()):
            for uri in uris:
                if uri in sub.uris:
                    self._queue(sub, uri)

    def _queue(self, sub: _Subscriber, uri: str) -> None:
        if uri not in sub.pending:
            if len(sub.pending) >= self.queue_size:
                del sub.pending[next(iter(sub.pending))]
            sub.pending[uri] = None
        # Sender state follows the group, not the task: a task cancelled before it first ran never says so.
        if sub.group not in self._groups and self._groups:
            sub.group = self._groups[-1]
            sub.group.start_soon(self._send, sub, sub.group)

    async def _send(self, sub: _Subscriber, group: anyio.abc.TaskGroup) -> None:
        try:
            with anyio.CancelScope() as sub.scope:
                while sub.pending and self._subscribers.get(sub.connection) is sub:
                    uri = next(iter(sub.pending))
                    del sub.pending[uri]
                    with anyio.move_on_after(self.stall_seconds) as waited:
                        await sub.connection.send_resource_updated(uri)
                    if waited.cancelled_caught:
                        self._forget(sub.connection, f"it took no notification for {self.stall_seconds:g} s")
                        log.warning(
                            "dropped a subscriber that stopped reading for %g s; it must subscribe again",
                            self.stall_seconds,
                        )
        except Exception as error:  # the client is gone
            self._forget(sub.connection, f"sending failed ({type(error).__name__})")
        finally:
            sub.scope = None
            if sub.group is group:
                sub.group = None

    def _forget(self, connection: Any, why: str) -> None:
        sub = self._subscribers.pop(connection, None)
        if sub is not None:
            log.debug("released a subscriber of %d URIs: %s", len(sub.uris), why)
            sub.uris.clear()
            sub.pending.clear()
            if sub.scope is not None:
                sub.scope.cancel()
