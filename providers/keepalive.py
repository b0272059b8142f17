"""A lean HTTP/1.1 client for the one request the engine repeats most: a job's status GET, every few seconds
for every followed job, over kept-alive connections on asyncio.

httpx (even over aiohttp) spends most of a poll's CPU on machinery a small JSON GET does not use: request
and response models built per call, cookie jars, redirect and auth hooks, streamed bodies read back through
decoders (BENCHMARKS.md). Here a GET is one bytes write and one buffer parse on a pooled connection; the answer
is an ordinary httpx.Response, and every failure is the httpx exception httpx would raise, so ProviderHTTP's
retries, error mapping and redaction are the same whichever client sent the request. Only plain GETs come
here (no body, no proxy: ProviderHTTP decides); everything else keeps httpx.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

MAX_IDLE_PER_HOST = 128  # idle connections kept per host (about the engine's concurrent polls)
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 2 * 1024**3  # as Google's files (served through a GET on its API); httpx has no cap at all
# An idle connection is not reused after this: servers close theirs after 5 s (uvicorn). providers/http.py
# expires httpx's connections by it too.
IDLE_SECONDS = 4.0
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 5.6.2)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # not in a header value (a tab is)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a GET, parses its answer, and says whether it can be used again."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self._answer: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self._buffer = bytearray()
        self._head: tuple[int, list[tuple[bytes, bytes]]] | None = None
        self._length: int | None = None  # the body's length, when the answer says it
        self._chunked = False
        self._until_close = False
        self._keep_alive = False
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = 0.0
        self._last_bytes = 0.0  # loop time of the latest bytes received (see _timed_out)
        self.idle_since = 0.0  # monotonic time it was put back in the pool

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self._fail_and_close(None)  # bytes nobody asked for: the connection cannot be trusted again
            return
        self._buffer += data
        self._last_bytes = asyncio.get_running_loop().time()
        try:
            self._parse()
        except _Broken as broken:
            self._fail_and_close(broken.error)

    def eof_received(self) -> bool:
        if self._until_close and self._head is not None:
            self._finish(bytes(self._buffer), reusable=False)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        import httpx

        self.closed = True
        if self._answer is not None and not self._answer.done():
            if self._until_close and self._head is not None:
                self._finish(bytes(self._buffer), reusable=False)
                return
            if self._head is None and not self._buffer:
                what = f"the server closed the connection without answering ({exc or 'EOF'})"
                self._fail(httpx.RemoteProtocolError(what))
            else:
                self._fail(httpx.RemoteProtocolError(f"the connection was lost mid-answer ({exc or 'EOF'})"))

    # -- a request -----------------------------------------------------------------------------
    async def send(self, request: bytes, timeout: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        import httpx

        assert self.transport is not None
        if self.closed or self.transport.is_closing():  # closed by the server before a byte was sent
            raise httpx.RemoteProtocolError("the server closed the connection before the request was sent")
        loop = asyncio.get_running_loop()
        self._answer = answer = loop.create_future()
        self._buffer.clear()
        self._head, self._length, self._chunked, self._until_close = None, None, False, False
        self.reusable = False
        self._timeout, self._last_bytes = timeout, loop.time()
        self._timer = loop.call_later(timeout, self._timed_out)
        self.transport.write(request)
        try:
            return await answer
        finally:
            self._timer.cancel()
            self._answer = None

    def _timed_out(self) -> None:
        """The read timeout counts from the last bytes received, as httpx's does (a large answer may take long):
        bytes since the timer was set push it back instead of failing."""
        import httpx

        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._last_bytes
        if quiet < self._timeout:
            self._timer = loop.call_later(self._timeout - quiet, self._timed_out)
            return
        self._fail_and_close(httpx.ReadTimeout("no answer within the read timeout"))

    def _fail(self, error: BaseException) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    def _fail_and_close(self, error: BaseException | None) -> None:
        if error is not None:
            self._fail(error)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, body: bytes, *, reusable: bool) -> None:
        assert self._head is not None and self._answer is not None
        self.reusable = reusable and not self.closed
        if not self._answer.done():
            self._answer.set_result((*self._head, body))

    # -- parsing -------------------------------------------------------------------------------
    def _parse(self) -> None:
        import httpx

        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    raise _Broken(httpx.RemoteProtocolError("the answer's headers are too long"))
                return
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            if _interim(head):  # 100 Continue, 103 Early Hints: the real answer follows
                continue
            self._head, keep_alive = self._read_head(head)
            self._keep_alive = keep_alive
        if self._chunked:
            body = _dechunk(buffer)
            if body is not None:
                self._finish(body, reusable=self._keep_alive)
        elif self._length is not None:
            if len(buffer) >= self._length:
                if len(buffer) > self._length:
                    raise _Broken(httpx.RemoteProtocolError("the answer is longer than its Content-Length"))
                self._finish(bytes(buffer), reusable=self._keep_alive)
        elif len(buffer) > MAX_BODY_BYTES:
            raise _Broken(httpx.RemoteProtocolError("the answer is too large for a status read"))

    def _read_head(self, head: bytes) -> tuple[tuple[int, list[tuple[bytes, bytes]]], bool]:
        import httpx

        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise _Broken(httpx.RemoteProtocolError("the answer is not HTTP/1.x"))
        if len(parts[1]) != 3:
            raise _Broken(httpx.RemoteProtocolError("the answer's status is not three digits"))
        status, version = int(parts[1]), parts[0]
        headers: list[tuple[bytes, bytes]] = []
        connection = b""
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):  # also refuses obsolete folding (a leading space)
                raise _Broken(httpx.RemoteProtocolError("the answer has a malformed header line"))
            value = value.strip()
            headers.append((name, value))
            lower = name.lower()
            if lower == b"content-length":
                if not value.isdigit() or (self._length is not None and int(value) != self._length):
                    raise _Broken(httpx.RemoteProtocolError("the answer has a bad Content-Length"))
                self._length = int(value)
            elif lower == b"transfer-encoding":
                if value.lower() != b"chunked":
                    raise _Broken(httpx.RemoteProtocolError(f"unsupported Transfer-Encoding {value!r}"))
                self._chunked = True
            elif lower == b"connection":
                connection = value.lower()
        if 100 <= status < 200:  # 101 Switching Protocols: not an answer a GET asked for
            raise _Broken(httpx.RemoteProtocolError("a 1xx answer that is not interim"))
        both = self._chunked and self._length is not None  # RFC 9112 6.3: chunked wins; never reuse it
        if status in (204, 304):  # never a body, whatever the headers say
            self._length, self._chunked = 0, False
        elif self._chunked:
            self._length = None
        elif self._length is None:
            self._until_close = True
            if len(self._buffer) > MAX_BODY_BYTES:
                raise _Broken(httpx.RemoteProtocolError("the answer is too large for a status read"))
        keep_alive = b"close" not in connection and (version == b"HTTP/1.1" or b"keep-alive" in connection)
        return (status, headers), keep_alive and not self._until_close and not both


def _interim(head: bytes) -> bool:
    """Whether an answer's head is an interim one (1xx but 101), to be skipped."""
    status = head[9:12]
    return head.startswith(b"HTTP/1.") and status[:1] == b"1" and status != b"101"


class _Broken(Exception):
    def __init__(self, error: BaseException):
        self.error = error


def _dechunk(buffer: bytearray) -> bytes | None:
    """The body of a complete chunked answer in `buffer`, or None while it is incomplete."""
    import httpx

    body, at = bytearray(), 0
    while True:
        end = buffer.find(b"\r\n", at)
        if end < 0:
            return None
        size_text = bytes(buffer[at:end]).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):  # int() would take "-6" (and loop here for ever), "0x7", "0_7"
            raise _Broken(httpx.RemoteProtocolError("a malformed chunk size"))
        size = int(size_text, 16)
        at = end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", at - 2)
            if trailer_end < 0:
                return None
            if trailer_end + 4 != len(buffer):
                raise _Broken(httpx.RemoteProtocolError("bytes after the last chunk"))
            return bytes(body)
        if len(buffer) < at + size + 2:
            return None
        if buffer[at + size : at + size + 2] != b"\r\n":
            raise _Broken(httpx.RemoteProtocolError("a chunk longer than its size"))
        body += buffer[at : at + size]
        if len(body) > MAX_BODY_BYTES:
            raise _Broken(httpx.RemoteProtocolError("the answer is too large for a status read"))
        at += size + 2


class KeepAliveGets:
    """Pooled HTTP/1.1 connections per host, for plain GETs. `get` returns an httpx.Response or raises the
    httpx exception httpx would: ConnectError / ConnectTimeout (nothing was sent), ReadTimeout,
    RemoteProtocolError (an answer cut off or malformed), LocalProtocolError (a header we must not send)."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, user_agent: str):
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._agent = user_agent.encode()
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def get(self, url: httpx.URL, request: httpx.Request, headers: Mapping[str, str]) -> httpx.Response:
        import httpx

        if self._closed:
            raise RuntimeError("the client was closed")
        message = self._message(url, headers)
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        connection = self._take(key) or await self._connect(key)
        try:
            status, head, body = await connection.send(message, self.read_timeout)
        except BaseException:
            connection._fail_and_close(None)
            raise
        idle = self._idle.setdefault(key, [])
        if connection.reusable and not self._closed and len(idle) < MAX_IDLE_PER_HOST:
            connection.idle_since = time.monotonic()
            idle.append(connection)
        else:
            connection._fail_and_close(None)
        return httpx.Response(status, headers=head, content=body, request=request)

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection._fail_and_close(None)
        self._idle.clear()

    def _message(self, url: httpx.URL, headers: Mapping[str, str]) -> bytes:
        import httpx

        lines = [b"GET ", url.raw_path, b" HTTP/1.1\r\n"]
        if not any(name.lower() == "host" for name in headers):
            lines += [b"Host: ", url.netloc, b"\r\n"]
        sent = set()
        for name, value in headers.items():
            if not _TOKEN.fullmatch(name.encode("latin-1", "replace")) or _CONTROL.search(value):
                raise httpx.LocalProtocolError(f"header {name!r} cannot be sent")
            sent.add(name.lower())
            try:
                lines += [name.encode(), b": ", value.encode("latin-1"), b"\r\n"]
            except UnicodeEncodeError:
                raise httpx.LocalProtocolError(f"header {name!r} has characters HTTP cannot carry") from None
        for default, given in (("accept", b"*/*"), ("accept-encoding", b"gzip, deflate"), ("user-agent", self._agent)):
            if default not in sent:
                lines += [default.encode(), b": ", given, b"\r\n"]
        lines.append(b"\r\n")
        return b"".join(lines)

    def _take(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if connection.closed or transport is None or transport.is_closing():
                continue
            if now - connection.idle_since > IDLE_SECONDS:  # the server may be closing it just now
                connection._fail_and_close(None)
                continue
            return connection
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        import httpx

        scheme, host, port = key
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()  # httpx's own: certifi, SSL_CERT_FILE, as every request
            context = self._ssl
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port, ssl=context, server_hostname=host if context else None),
                self.connect_timeout,
            )
        except (TimeoutError, asyncio.TimeoutError):
            raise httpx.ConnectTimeout(f"could not connect to {host}:{port} in time") from None
        except (OSError, ssl.SSLError) as error:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {error}") from None
        return connection
