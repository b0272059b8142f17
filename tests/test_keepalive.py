"""The lean keep-alive GET client (providers/keepalive.py) against a raw socket server that answers each request
as a test scripts it: every framing HTTP/1.1 allows for an answer, connection reuse, and each failure as the
httpx exception ProviderHTTP's retries and error mapping expect. Then ProviderHTTP: which requests take the
lean path and which keep httpx."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest

from providers.errors import ErrorCode, ProviderError
from providers.http import ProviderHTTP, RetryPolicy, fast_transport
from providers.keepalive import KeepAliveGets

pytestmark = pytest.mark.anyio
# The request's head -> bytes to send (None: hang up at once); after an answer that says "Connection: close" or
# is cut short (see `cut`), the server hangs up.
Answer = Callable[[bytes], bytes | None]
CUT = b"<hang up>"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Scripted:
    """A TCP server on 127.0.0.1 answering request number n with `answers[n]` (the last one repeats)."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                answer = self.answers[min(len(self.requests) - 1, len(self.answers) - 1)](head)
                if answer is None:
                    break
                writer.write(answer.removesuffix(CUT))
                await writer.drain()
                if answer.endswith(CUT) or b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[list[Answer]], Scripted]]:
    started: list[asyncio.Server] = []

    async def _start(answers: list[Answer]) -> Scripted:
        scripted = Scripted(answers)
        server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
        started.append(server)
        scripted.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return scripted

    yield _start  # type: ignore[misc]
    for server in started:
        server.close()


def json_answer(body: bytes = b'{"status":"IN_PROGRESS"}', *, extra: bytes = b"") -> Answer:
    return lambda _head: (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
        % (len(body), extra, body)
    )


def raw(data: bytes) -> Answer:
    return lambda _head: data


def client(read_timeout: float = 2.0) -> KeepAliveGets:
    return KeepAliveGets(connect_timeout=1.0, read_timeout=read_timeout, user_agent="videogen-test")


async def get(gets: KeepAliveGets, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    parsed = httpx.URL(url)
    return await gets.get(parsed, httpx.Request("GET", parsed), headers or {})


async def test_answers_are_read_whatever_their_framing_and_connections_are_reused(serve):
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n'
    zipped = gzip.compress(b'{"zipped":true}')
    server = await serve(
        [
            json_answer(),
            raw(chunked),
            json_answer(zipped, extra=b"Content-Encoding: gzip\r\n"),
            raw(b"HTTP/1.1 204 No Content\r\n\r\n"),
            raw(b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"until":"close"}'),
        ]
    )
    gets = client()
    try:
        first = await get(gets, f"{server.url}/v1/status?id=7", {"Authorization": "Bearer k"})
        assert (first.status_code, first.json()) == (200, {"status": "IN_PROGRESS"})
        assert first.headers["content-type"] == "application/json" and first.request.url.path == "/v1/status"
        assert (await get(gets, f"{server.url}/b")).json() == {"a": 1}
        assert (await get(gets, f"{server.url}/c")).json() == {"zipped": True}  # decoded as httpx would
        assert (await get(gets, f"{server.url}/d")).status_code == 204
        assert server.connections == 1  # four answers, one kept-alive connection
        assert (await get(gets, f"{server.url}/e")).json() == {"until": "close"}  # read to the end of the stream
        assert (await get(gets, f"{server.url}/f")).json() == {"until": "close"}
        assert server.connections == 2  # the one that closed is never used again
    finally:
        await gets.aclose()
    sent = server.requests[0].decode()
    assert sent.startswith("GET /v1/status?id=7 HTTP/1.1\r\n") and f"Host: {server.url[7:]}\r\n" in sent
    assert "Authorization: Bearer k\r\n" in sent and "user-agent: videogen-test\r\n" in sent


async def test_concurrent_gets_each_get_their_own_answer(serve):
    server = await serve([lambda head: json_answer(head.split(b" ")[1])(head)])
    gets = client()
    try:
        answers = await asyncio.gather(*(get(gets, f"{server.url}/job/{n}") for n in range(20)))
        assert [a.content for a in answers] == [f"/job/{n}".encode() for n in range(20)]
        again = await asyncio.gather(*(get(gets, f"{server.url}/job/{n}") for n in range(20)))
        assert len(again) == 20 and server.connections <= 20  # the second round reuses the first's connections
    finally:
        await gets.aclose()


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        (raw(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut' + CUT), httpx.RemoteProtocolError, "mid-answer"),
        (lambda _head: None, httpx.RemoteProtocolError, "without answering"),
        (raw(b"SSH-2.0-OpenSSH\r\n\r\n"), httpx.RemoteProtocolError, "not HTTP"),
        (raw(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), httpx.RemoteProtocolError, "Content-Length"),
        (raw(b"HTTP/1.1 200 OK\r\nBad header\r\n\r\n"), httpx.RemoteProtocolError, "malformed header"),
        (raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}}"), httpx.RemoteProtocolError, "longer"),
        (raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), httpx.RemoteProtocolError, "Transfer-Encoding"),
        (raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), httpx.RemoteProtocolError, "chunk"),
        (raw(b"HTTP/1.1 200 OK\r\n"), httpx.ReadTimeout, "read timeout"),  # headers never finished
        # A negative size once sent the parser back to the same line for ever, the event loop with it.
        (raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nabc\r\n"), httpx.RemoteProtocolError, "size"),
        (raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x7\r\n"), httpx.RemoteProtocolError, "size"),
        (
            raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"),
            httpx.RemoteProtocolError,
            "longer",
        ),
        (raw(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"), httpx.RemoteProtocolError, "three digits"),
        (raw(b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n"), httpx.RemoteProtocolError, "malformed"),
        (raw(b"HTTP/1.1 101 Switching\r\n\r\n"), httpx.RemoteProtocolError, "1xx"),
    ],
)
async def test_a_broken_answer_is_the_httpx_error_httpx_would_raise(serve, answer, error, says):
    server = await serve([answer])
    gets = client(read_timeout=0.5)
    try:
        with pytest.raises(error, match=says):
            await get(gets, f"{server.url}/x")
        assert not any(c for idle in gets._idle.values() for c in idle)  # a broken connection is not kept
    finally:
        await gets.aclose()


async def test_interim_answers_are_skipped_and_bodiless_answers_never_wait_for_a_body(serve):
    server = await serve(
        [
            raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + json_answer()(b"")),
            raw(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"),
            raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
            json_answer(),
        ]
    )
    gets = client(read_timeout=1.0)
    try:
        assert (await get(gets, f"{server.url}/a")).json() == {"status": "IN_PROGRESS"}
        assert (await get(gets, f"{server.url}/b")).status_code == 204
        assert server.connections == 1
        assert (await get(gets, f"{server.url}/c")).json() == {}  # chunked wins over Content-Length (RFC 9112 6.3)
        await get(gets, f"{server.url}/d")
        assert server.connections == 2  # ... and a connection that said both is not trusted again
    finally:
        await gets.aclose()


async def test_a_connection_closed_before_the_request_fails_at_once(serve):
    """A server that accepts and hangs up at once (overloaded, crashing): the GET fails fast (and ProviderHTTP
    retries it), instead of waiting out the read timeout on a connection that is gone."""
    server = await serve([lambda _h: None])
    gets = client(read_timeout=30.0)
    try:
        connection = await gets._connect(("http", "127.0.0.1", int(server.url.rsplit(":", 1)[1])))
        connection.transport.close()
        await asyncio.sleep(0.05)
        with anyio.fail_after(5):
            with pytest.raises(httpx.RemoteProtocolError, match="before the request was sent"):
                await connection.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 30.0)
    finally:
        await gets.aclose()


async def test_the_read_timeout_counts_from_the_last_bytes_received(serve):
    """A slow but steady answer (a large file through Google's API) is not cut off by a deadline on the whole."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n")
        for _ in range(8):
            await asyncio.sleep(0.15)
            writer.write(b"x")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    gets = client(read_timeout=0.5)  # the whole answer takes 1.2 s
    try:
        answer = await get(gets, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/slow")
        assert answer.content == b"x" * 8
    finally:
        await gets.aclose()
        server.close()


async def test_an_idle_connection_is_not_reused_once_the_server_may_close_it(serve, monkeypatch):
    import providers.keepalive as keepalive

    server = await serve([json_answer()])
    gets = client()
    try:
        await get(gets, f"{server.url}/a")
        await get(gets, f"{server.url}/b")
        assert server.connections == 1
        monkeypatch.setattr(keepalive, "IDLE_SECONDS", 0.0)
        await asyncio.sleep(0.01)
        await get(gets, f"{server.url}/c")
        assert server.connections == 2
    finally:
        await gets.aclose()


async def test_no_connection_and_bad_headers_fail_before_anything_is_sent(serve):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens here once the probe closes
    gets = client()
    try:
        with pytest.raises(httpx.ConnectError):
            await get(gets, f"http://127.0.0.1:{port}/x")
        server = await serve([json_answer()])
        for bad in ({"X-Evil": "a\r\nInjected: yes"}, {"X-Bell": "\x07"}, {"Bad Name": "x"}, {"X-Name": "名前"}):
            with pytest.raises(httpx.LocalProtocolError):
                await get(gets, f"{server.url}/x", bad)
        assert server.requests == []
        await get(gets, f"{server.url}/x", {"Host": "api.example.com"})  # the caller's Host, sent once
        assert server.requests[0].count(b"Host:") == 1 and b"Host: api.example.com\r\n" in server.requests[0]
    finally:
        await gets.aclose()


# -- ProviderHTTP: which requests take the lean path ---------------------------------------------


async def test_provider_http_sends_plain_gets_lean_and_everything_else_through_httpx(serve, monkeypatch):
    body = b'{"status":"IN_QUEUE"}'
    server = await serve([json_answer(body)])
    http = ProviderHTTP(
        "Sim",
        server.url,
        headers={"authorization": "Key old", "X-Client": "1"},
        auth=lambda: {"Authorization": "Key new"},
    )
    try:
        assert (await http.request("GET", "/status")).json() == {"status": "IN_QUEUE"}
        assert http._gets is not None and any(http._gets._idle.values())
        sent = server.requests[-1].decode()
        assert "Authorization: Key new\r\n" in sent and "Key old" not in sent and "X-Client: 1\r\n" in sent
        await http.request("GET", "/status", params={"id": "1", "logs": True})  # plain params: in the URL, lean
        await http.request("GET", "/status", params={"q": "two words"})  # escaping needed: httpx builds the URL
        await http.request("POST", "/submit", json={"a": 1})
        lines = [r.split(b"\r\n")[0] for r in server.requests]
        assert lines == [
            b"GET /status HTTP/1.1",
            b"GET /status?id=1&logs=true HTTP/1.1",
            b"GET /status?q=two+words HTTP/1.1",
            b"POST /submit HTTP/1.1",
        ]
        # httpx says "connection: keep-alive"; the lean client sends only what a GET needs.
        assert [b"connection: keep-alive" in r for r in server.requests] == [False, False, True, True]
        assert all(b"python-httpx" in r for r in server.requests)  # the same user agent either way
    finally:
        await http.aclose()
    # httpx's own transport honours the proxy variables; httpx-aiohttp and the lean client do not.
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    proxied = ProviderHTTP("Sim", server.url)
    proxied._http()
    assert proxied._gets is None and fast_transport() is None
    await proxied.aclose()
    monkeypatch.delenv("https_proxy")
    monkeypatch.setenv("NO_PROXY", "example.com")  # a bypass list alone names no proxy
    transport = fast_transport()
    # Submits too drop an idle connection before servers commonly close theirs (5 s): one sent on a closing
    # connection is lost mid-way (SUBMIT_UNCONFIRMED).
    assert transport is not None and transport.limits.keepalive_expiry < 5  # type: ignore[attr-defined]


async def test_a_lean_get_failure_is_retried_and_reported_like_any_other(serve):
    server = await serve([raw(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{" + CUT), lambda _h: None, json_answer()])
    fast = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, read_timeout=1.0)
    http = ProviderHTTP("Sim", server.url, policy=fast, secrets=["sekrit-token"])
    try:
        assert (await http.request("GET", "/s?token=sekrit-token")).json() == {"status": "IN_PROGRESS"}
        assert len(server.requests) == 3
    finally:
        await http.aclose()
    broken = await serve([lambda _h: None])
    http = ProviderHTTP("Sim", broken.url, policy=fast, secrets=["sekrit-token"])
    try:
        with pytest.raises(ProviderError) as raised:
            await http.request("GET", "/s?token=sekrit-token")
    finally:
        await http.aclose()
    assert raised.value.code == ErrorCode.TRANSIENT and raised.value.retryable is not False
    assert "after 3 attempts" in raised.value.message and "sekrit" not in raised.value.message
