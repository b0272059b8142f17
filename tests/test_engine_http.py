"""The HTTP client's transport: httpx over aiohttp on asyncio (the CPU per status request is the engine's main
cost), httpx's own under trio, and the same answers from both. What matters most: a submit whose connection
was lost after it went out is SUBMIT_UNCONFIRMED (never resent), one that never connected is resent."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from providers.errors import ErrorCode, ProviderError
from providers.http import ProviderHTTP, RetryPolicy

pytestmark = pytest.mark.anyio
FAST = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0, read_timeout=0.3, connect_timeout=1.0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


class Raw:
    """A socket server that answers each request as `action` says, counting requests."""

    def __init__(self, action: str) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.action, self.hits, self._stop = action, 0, threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()  # a hang holds up no other

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            data = b""
            while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                data += chunk
            self.hits += 1
            if self.action == "reset":  # linger 0: close() sends a RST
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.action == "hang":  # past the client's read timeout
                time.sleep(0.6)
            elif self.action == "garbage":
                conn.sendall(b"this is not HTTP at all\r\n\r\n")
            elif self.action == "ok":
                body = b'{"ok": true}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            # "close": hang up without a word

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def raw(request: pytest.FixtureRequest) -> Iterator[Raw]:
    server = Raw(getattr(request, "param", "ok"))
    yield server
    server.close()


async def no_sleep(_: float) -> None:
    return None


def client(url: str) -> ProviderHTTP:
    return ProviderHTTP("Runway", url, policy=FAST, sleep=no_sleep)


async def test_the_transport_is_aiohttp_on_asyncio_and_httpx_own_under_trio(raw: Raw, anyio_backend: str) -> None:
    from httpx_aiohttp import AiohttpTransport

    async with client(raw.url) as http:
        assert (await http.request("GET", "/v1/tasks/1")).json() == {"ok": True}
        transport = http._client._transport  # type: ignore[union-attr]
        assert isinstance(transport, AiohttpTransport) == (anyio_backend == "asyncio")
        assert isinstance(transport, httpx.AsyncHTTPTransport) == (anyio_backend == "trio")


@pytest.mark.parametrize("raw", ["reset", "close", "hang", "garbage"], indirect=True)
async def test_a_submit_lost_after_sending_is_unconfirmed_and_never_resent(raw: Raw) -> None:
    async with client(raw.url) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={"prompt": "x"})
    assert caught.value.code == ErrorCode.SUBMIT_UNCONFIRMED and not caught.value.retryable, caught.value.message
    assert raw.hits == 1


@pytest.mark.parametrize("raw", ["reset", "close", "hang", "garbage"], indirect=True)
async def test_a_status_read_lost_after_sending_is_transient_and_retried(raw: Raw) -> None:
    async with client(raw.url) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("GET", "/v1/tasks/1")
    assert caught.value.code == ErrorCode.TRANSIENT and caught.value.retryable, caught.value.message
    assert raw.hits == FAST.attempts  # each attempt once: no silent extra retry inside the transport


async def test_a_submit_that_never_connected_is_resent() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with client(url) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={"prompt": "x"})
    assert caught.value.code == ErrorCode.TRANSIENT and "could not connect" in caught.value.message
    assert "after 2 attempts" in caught.value.message  # sent again: nothing had reached the provider
