"""A client that stops reading its notifications must never hold up a job, and one that left must be forgotten.

Unit tests drive JobNotifier with the SDK's own Connection, ServerSession, subscription bus and listen handler,
where only the wire under the connection is replaced (a client that never takes a message). The end-to-end
test stalls a raw streamable-HTTP client against a real server process while another client runs demo jobs.
"""

from __future__ import annotations

import gc
import re
import socket
import time
import warnings
import weakref
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.server.connection import Connection
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp_types import (
    ResourceUpdatedNotification,
    SubscribeRequestParams,
    SubscriptionFilter,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)
from test_transports import serving

from server.app import build_server
from server.notify import JOBS_URI, JobNotifier, job_uri
from server.settings import Settings

pytestmark = pytest.mark.anyio
FAST = {"provider": "demo", "duration": 1, "resolution": "360p"}
LEGACY = "2025-11-25"


class Wire:
    """What a Connection sends on: records each message, or never returns (a client that stopped reading)."""

    def __init__(self, stalled: bool = False):
        self.stalled = stalled
        self.sent: list[str] = []
        self.arrived = anyio.Event()
        self.reached = anyio.Event()  # something tried to send

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: Any = None) -> None:
        self.reached.set()
        if self.stalled:
            await anyio.sleep_forever()
        self.sent.append(params["uri"] if params else method)
        self.arrived.set()

    async def send_raw_request(self, method: str, params: Any, opts: Any = None) -> dict[str, Any]:
        raise NotImplementedError


def client_on(wire: Wire) -> SimpleNamespace:
    """A request context as the SDK builds it for one request on a connection over `wire`."""
    connection = Connection(wire, protocol_version=LEGACY)
    return SimpleNamespace(session=ServerSession(None, connection), connection=connection)


def request(ctx: SimpleNamespace) -> SimpleNamespace:
    """Another request on the same connection: the SDK makes a new ServerSession for each."""
    return SimpleNamespace(session=ServerSession(None, ctx.connection), connection=ctx.connection)


async def subscribe(notifier: JobNotifier, ctx: SimpleNamespace, uri: str) -> None:
    await notifier.subscribe(request(ctx), SubscribeRequestParams(uri=uri))


async def test_a_stalled_subscriber_delays_neither_the_engine_nor_other_subscribers():
    notifier = JobNotifier(InMemorySubscriptionBus())
    stalled, good = Wire(stalled=True), Wire()
    async with notifier.running():
        stalled_client, good_client = client_on(stalled), client_on(good)
        await subscribe(notifier, stalled_client, JOBS_URI)
        await subscribe(notifier, good_client, JOBS_URI)
        await subscribe(notifier, good_client, job_uri("job_b"))
        with anyio.fail_after(10):  # the old notifier awaited the stalled send here, forever
            for n in range(200):
                await notifier.job_changed(SimpleNamespace(job_id="job_a" if n % 2 else "job_b"))
            while job_uri("job_b") not in good.sent:
                await good.arrived.wait()
                good.arrived = anyio.Event()
        assert set(good.sent) == {JOBS_URI, job_uri("job_b")}
        # One connection is one subscriber, however often it subscribed (each request has a new session).
        assert notifier.subscribers == 2


async def test_a_sustained_stall_drops_the_subscriber_and_unsubscribing_forgets():
    notifier = JobNotifier(InMemorySubscriptionBus(), stall_seconds=0.1)
    stalled, good = Wire(stalled=True), Wire()
    async with notifier.running():
        stalled_client, good_client = client_on(stalled), client_on(good)
        await subscribe(notifier, stalled_client, JOBS_URI)
        await subscribe(notifier, good_client, JOBS_URI)
        await notifier.job_changed(SimpleNamespace(job_id="job_a"))
        with anyio.fail_after(10):
            while notifier.subscribers > 1:
                await anyio.sleep(0.02)
        assert good.sent == [JOBS_URI]  # the one left is the good one
        await notifier.unsubscribe(request(good_client), UnsubscribeRequestParams(uri=JOBS_URI))
        assert notifier.subscribers == 0


async def test_a_stalled_listen_stream_does_not_block_publishing():
    """2026-07-28: the SDK's listen handler buffers with send_nowait and ends a stream that fills up."""
    bus = InMemorySubscriptionBus()
    notifier = JobNotifier(bus)
    listen = ListenHandler(bus, max_buffered_events=8)
    wire = Wire(stalled=True)
    session = SimpleNamespace(send_notification=lambda *a, **k: wire.notify("", None))
    ctx = SimpleNamespace(request_id=7, session=session)
    params = SubscriptionsListenRequestParams(notifications=SubscriptionFilter(resource_subscriptions=[JOBS_URI]))
    async with anyio.create_task_group() as tg, notifier.running():
        tg.start_soon(listen, ctx, params)
        await wire.reached.wait()  # it listens to the bus and is stuck sending its acknowledgement
        with anyio.fail_after(10):
            for n in range(100):
                await notifier.job_changed(SimpleNamespace(job_id=f"job_{n}"))
        tg.cancel_scope.cancel()


async def test_closed_and_unsubscribed_clients_are_released(settings: Settings):
    """Against the real server in process: nothing of a client stays after it left, and unsubscribing stops
    its notifications."""
    server = build_server(settings)
    subscribe_handler = server._lowlevel_server.get_request_handler("resources/subscribe").handler
    notifier: JobNotifier = subscribe_handler.__self__
    connections: list[weakref.ref] = []

    async def watching(ctx, params):
        connections.append(weakref.ref(ctx.session._connection))
        return await subscribe_handler(ctx, params)

    server._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, watching)
    updates: list[str] = []

    async def on_message(message) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resources/subscribe is the pre-2026 way, deprecated on purpose
        async with Client(server, mode="legacy", message_handler=on_message) as client:
            await client.subscribe_resource(JOBS_URI)
            await client.subscribe_resource(JOBS_URI)
            await client.call_tool("generate_video", {"prompt": "first", **FAST})
            await client.unsubscribe_resource(JOBS_URI)
            second = await client.call_tool("generate_video", {"prompt": "second", "wait_seconds": 0, **FAST})
            await client.subscribe_resource(job_uri(second.structured_content["job_id"]))
            await client.call_tool("get_status", {"job_id": second.structured_content["job_id"], "wait_seconds": 20})
            with anyio.fail_after(10):
                while job_uri(second.structured_content["job_id"]) not in updates:
                    await anyio.sleep(0.05)
            await anyio.sleep(0.2)
        async with Client(server, mode="legacy") as client:  # a second client that just leaves
            await client.subscribe_resource(JOBS_URI)
    # Notifications are sent in order: once the second job's arrive, any for the jobs list would be new ones.
    first_of_second = updates.index(job_uri(second.structured_content["job_id"]))
    assert JOBS_URI in updates[:first_of_second] and JOBS_URI not in updates[first_of_second:]
    gc.collect()
    assert len(connections) == 4 and all(ref() is None for ref in connections)
    assert notifier.subscribers == 0


def stalled_subscriber(url: str, transport: str, subscriptions: int) -> socket.socket:
    """A raw legacy client: opens its event stream, subscribes to the jobs list and never reads again.
    It subscribes many times: the old notifier sent once per subscribe call, so loopback's megabytes of socket
    buffer fill within a few jobs instead of thousands."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    stream = socket.socket()
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stream.connect((host, port))
    stream.settimeout(10)

    def open_stream(path: str, headers: str = "") -> bytes:
        stream.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n{headers}\r\n".encode()
        )
        opened = stream.recv(4096)
        assert opened.startswith(b"HTTP/1.1 200"), opened
        return opened

    with httpx.Client(timeout=10) as http:
        headers = {"accept": "application/json, text/event-stream"}
        if transport == "sse":  # the stream first: it names where to post
            opened = open_stream("/sse")
            while not (endpoint := re.search(rb"data: (\S+)\r?\n", opened)):
                opened += stream.recv(4096)
            post_to = f"{url}{endpoint[1].decode()}"
        else:
            post_to = f"{url}/mcp"

        def post(body: dict[str, Any]) -> httpx.Response:
            response = http.post(post_to, json=body, headers=headers)
            response.raise_for_status()
            return response

        hello = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "stalled", "version": "0"}}
        answer = post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello})
        if transport == "streamable-http":
            headers |= {"mcp-session-id": answer.headers["mcp-session-id"], "mcp-protocol-version": LEGACY}
            open_stream("/mcp", "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.startswith("mcp-")))
        post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        # From here on the stream is never read.
        for n in range(subscriptions):
            post({"jsonrpc": "2.0", "id": n + 1, "method": "resources/subscribe", "params": {"uri": JOBS_URI}})
    return stream


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_a_client_that_stops_reading_does_not_hold_up_other_clients_jobs(env: dict[str, str], transport: str):
    env = {**env, "VIDEOGEN_POLL_SCALE": "0.01", "VIDEOGEN_DEMO_LATENCY": "1"}
    with serving(env, transport) as url:
        stream = stalled_subscriber(url, transport, subscriptions=2000)
        other = (
            Client(f"{url}/mcp") if transport == "streamable-http" else Client(sse_client(f"{url}/sse"), mode="legacy")
        )
        try:
            async with other as client:
                started = [
                    await client.call_tool("generate_video", {"prompt": f"job {n}", "wait_seconds": 0, **FAST})
                    for n in range(6)
                ]
                # Generous for a busy machine; with the old notifier these jobs froze until the client left.
                deadline = time.monotonic() + 60
                for job in started:
                    wait = max(1.0, deadline - time.monotonic())
                    done = await client.call_tool(
                        "get_status", {"job_id": job.structured_content["job_id"], "wait_seconds": wait}
                    )
                    assert done.structured_content["status"] == "succeeded", done.structured_content
        finally:
            stream.close()


async def test_a_listener_that_never_returns_does_not_hold_up_the_job(settings: Settings):
    """The engine's own safety net under any listener: a change is published, not waited on forever."""
    from server.catalog import RequestArgs
    from server.jobs import JobManager

    async def stuck(_row: Any) -> None:
        await anyio.sleep_forever()

    async with JobManager(settings) as manager:
        manager.listeners.append(stuck)
        row = await manager.submit(RequestArgs(prompt="a stuck listener", duration=1))
        with anyio.fail_after(60):
            while not (done := manager.get(row.job_id)).terminal:
                await anyio.sleep(0.05)
    assert done.status == "succeeded", done.error
