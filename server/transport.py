"""Serving MCP safely over stdio, SSE or streamable HTTP.

HTTP: loopback by default. A non-loopback bind needs a bearer token (or an explicit --insecure), since
anyone who reaches the port could spend the person's money. DNS-rebinding protection stays on
everywhere: Host and Origin must be loopback or listed in VIDEOGEN_ALLOWED_HOSTS / --allowed-host.

Every transport takes messages up to one size (VIDEOGEN_MAX_REQUEST_MB), large enough for the images a
request may carry as data URIs; stdio answers a malformed or oversized line with a JSON-RPC error.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, cast

import anyio

from providers.images import MAX_IMAGE_BYTES
from server.settings import NUMBERS, SettingsError, max_request_bytes

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

# The largest legitimate message: the most images one request may carry (runblob takes 5 reference images;
# tests/test_stdio_hardening.py checks this against the catalog), each a data URI of MAX_IMAGE_BYTES
# (base64 is 4/3 of it), plus prompt and envelope: about 67 MiB. 80 MiB leaves room for JSON escapes, and a
# longer line or body is refused having cost about that much memory, not its own length.
MAX_IMAGES_PER_REQUEST = 5
LARGEST_REQUEST_BYTES = MAX_IMAGES_PER_REQUEST * (MAX_IMAGE_BYTES * 4 // 3 + 64) + 64 * 1024
MAX_MESSAGE_ENV = "VIDEOGEN_MAX_REQUEST_MB"  # parsed by Settings (its NUMBERS table): Settings.max_request_bytes
DEFAULT_MAX_MESSAGE_BYTES = int((NUMBERS[MAX_MESSAGE_ENV].default or 0) * 1024 * 1024)  # 80 MiB


def max_message_bytes(env: Mapping[str, str]) -> int:
    """The limit for `env` by Settings' rule. The server does not call this: it takes Settings.max_request_bytes."""
    return max_request_bytes(env)


def _too_large(limit: int) -> str:
    return (
        f"the request is larger than the server's limit of {limit / 2**20:g} MB ({MAX_MESSAGE_ENV}); "
        "send large images as https URLs or local file paths instead of data URIs, or raise the limit"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, insecure: bool) -> None:
    if not is_loopback(host) and not token and not insecure:
        raise SettingsError(
            f"refusing to serve on {host} without a bearer token: anyone who can reach it could generate paid "
            "videos. Set VIDEOGEN_AUTH_TOKEN (or --auth-token), bind 127.0.0.1, or pass --insecure if another "
            "layer authenticates callers"
        )
    if token is not None and len(token) < 16:
        raise SettingsError("the auth token must be at least 16 characters; use a long random string")


def security_settings(host: str, port: int, allowed_hosts: Sequence[str]) -> Any:
    """Host/Origin checks for any bind address: loopback names plus the ones the person allowed."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = [f"{name}:*" for name in LOOPBACK_NAMES] + [*LOOPBACK_NAMES]
    for name in [*allowed_hosts, *([host] if not is_loopback(host) and host not in ("0.0.0.0", "::") else [])]:
        hosts += [name, f"{name}:{port}"]
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class BearerTokenGuard:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="mcp-videogen"'),
                        ],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b'{"error": "missing or wrong bearer token (VIDEOGEN_AUTH_TOKEN)"}',
                    }
                )
                return
        await self.app(scope, receive, send)


class PublicRoutes:
    """Routes that carry their own credential to their own apps, everything else (lifespan included) to the
    guarded MCP app. Provider callbacks (/webhooks/...): providers cannot send our bearer token, so the per-job
    token in the path authenticates them. Downloads (/files/...): a browser or a player in a chat has no token
    either; the link's signature is the credential. No other path gets past the guard."""

    def __init__(self, mcp_app: Any, routes: Sequence[tuple[str, Any]]):
        self.mcp_app = mcp_app
        self.routes = list(routes)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            for prefix, app in self.routes:
                if path.startswith(prefix):
                    await app(scope, receive, send)
                    return
        await self.mcp_app(scope, receive, send)


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """The SDK's Host rule (transport_security): an exact entry, or `name:*` for name with any port."""
    return bool(host) and any(host == a or (a.endswith(":*") and host.startswith(a[:-1])) for a in allowed)


class HostCheck:
    """ASGI middleware: the DNS-rebinding check the SDK makes on /mcp, for a route outside it: a Host that is
    not ours gets 421. (No Origin check: a player in a chat's sandbox loads the signed link cross-origin.)"""

    def __init__(self, app: Any, allowed: Sequence[str]):
        self.app = app
        self.allowed = list(allowed)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not host_allowed(host, self.allowed):
                body = b"Invalid Host header"
                headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": 421, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request that declares a body above the limit gets 413 and a JSON-RPC error saying
    what to do, before a byte of it is read. (The SDK's own limit, set to the same size, catches bodies
    sent without a Content-Length, with a terser message.)"""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.limit:
                error = {"code": -32600, "message": _too_large(self.limit)}
                body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),  # the unread body must not be taken for the next request
                ]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(
    mcp: Any,
    transport: str,
    host: str,
    port: int,
    token: str | None,
    allowed_hosts: Sequence[str],
    webhooks: Any | None = None,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Any:
    """The ASGI app to serve: MCP behind the bearer-token guard, plus the webhook route when given and the
    signed download route (/files/, behind the Host check) when `mcp` is one of ours (build_server)."""
    security = security_settings(host, port, allowed_hosts)
    # The SDK's default body limit (4 MiB) would refuse a request within the documented image limit.
    if transport == "sse":
        app = mcp.sse_app(host=host, transport_security=security, max_request_body_size=max_bytes)
    else:
        app = mcp.streamable_http_app(host=host, transport_security=security, max_request_body_size=max_bytes)
    app = BodyLimit(app, max_bytes)
    guarded = BearerTokenGuard(app, token) if token else app
    routes: list[tuple[str, Any]] = []
    if webhooks is not None:
        from server.webhooks import PREFIX as WEBHOOKS

        routes.append((WEBHOOKS, webhooks))
    delivery = getattr(mcp, "delivery", None)
    if delivery is not None:
        from server.delivery.links import PREFIX as FILES

        files = delivery.serve(host, port, list(allowed_hosts))
        routes.append((FILES, HostCheck(files, [*security.allowed_hosts, *_public_hosts(delivery)])))
    return PublicRoutes(guarded, routes) if routes else guarded


def _public_hosts(delivery: Any) -> list[str]:
    """The Host a request to VIDEOGEN_PUBLIC_URL arrives with (a proxy passing it on), with and without port."""
    from urllib.parse import urlsplit

    base = delivery.links.base_url if delivery.links else None
    parts = urlsplit(base) if base else None
    return [parts.netloc, parts.hostname or ""] if parts and parts.netloc else []


# -- stdio -------------------------------------------------------------------------------------------------
_CHUNK = 1024 * 1024
_TOO_LONG = None  # what the reader hands over for a line above the limit (its bytes were skipped)


def _problem(line: bytes) -> tuple[int, str] | None:
    """Why a line is not a JSON-RPC message (code and message of the error to answer), or None if it is.
    The SDK's stdio reader parses it again the same way; it would drop a bad line unanswered."""
    import mcp_types as types
    from pydantic import ValidationError

    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":  # bad syntax, invalid UTF-8, a lone surrogate, nesting too deep
            return types.PARSE_ERROR, f"Parse error: {first['msg']}; send one UTF-8 JSON-RPC message per line"
        return types.INVALID_REQUEST, "Invalid Request: the line is JSON but not a JSON-RPC 2.0 message"
    except (ValueError, RecursionError) as error:
        return types.PARSE_ERROR, f"Parse error: {type(error).__name__}; send one UTF-8 JSON-RPC message per line"
    return None


class StdioLines:
    """stdin for the SDK's stdio transport (it takes any async iterable of lines): only lines that are
    JSON-RPC messages reach it; every other line is answered here with an error (id null). A line is read
    with a length limit, so a longer one is skipped chunk by chunk and never held whole."""

    def __init__(self, source: BinaryIO, max_bytes: int, portal: Any):
        self.source = source
        self.max_bytes = max_bytes
        self.portal = portal
        self.send, self.receive = anyio.create_memory_object_stream[Any](0)
        self.replies: Any = None
        self.ready = anyio.Event()
        # A daemon thread, so a read blocked on an idle stdin never keeps a stopping process alive.
        threading.Thread(target=self._pump, name="videogen stdin", daemon=True).start()

    def answer_on(self, write_stream: Any) -> None:
        self.replies = write_stream
        self.ready.set()

    def _read_line(self) -> bytes | None:
        line = self.source.readline(self.max_bytes + 1)
        if len(line) <= self.max_bytes or line.endswith(b"\n"):
            return line
        while line and not line.endswith(b"\n"):
            line = self.source.readline(_CHUNK)
        return _TOO_LONG

    def _pump(self) -> None:
        while True:
            try:
                line = self._read_line()
            except (OSError, ValueError):
                line = b""
            try:
                self.portal.call(self.send.send, line)
            except Exception:  # serving has ended: nobody takes lines any more
                return
            if line == b"":
                return

    def __aiter__(self) -> StdioLines:
        return self

    async def __anext__(self) -> bytes:
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        while True:
            line = await self.receive.receive()
            if line is _TOO_LONG:
                problem: tuple[int, str] | None = (types.PARSE_ERROR, f"Parse error: {_too_large(self.max_bytes)}")
            elif not line:
                raise StopAsyncIteration
            elif not line.strip():
                continue  # a blank line is no message: nothing to answer
            else:
                problem = _problem(line)
            if problem is None:
                return line
            await self.ready.wait()
            error = types.ErrorData(code=problem[0], message=problem[1])
            await self.replies.send(SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=None, error=error)))


def _claim_stdin() -> BinaryIO:
    """The wire as a private descriptor; fd 0 then reads the null device, as the SDK arranges, so a handler
    or child process that reads stdin cannot eat protocol bytes."""
    wire = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Never closed: the reader thread may still block on it while the process stops.
    return os.fdopen(wire, "rb", buffering=_CHUNK, closefd=False)


async def serve_stdio(mcp: Any, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
    """MCPServer.run() over stdio, with StdioLines as the SDK transport's stdin."""
    from anyio.from_thread import BlockingPortal
    from mcp.server.stdio import stdio_server

    server = mcp._lowlevel_server  # what MCPServer.run_stdio_async drives
    async with BlockingPortal() as portal:
        lines = StdioLines(_claim_stdin(), max_bytes, portal)
        try:
            async with stdio_server(stdin=cast(Any, lines)) as (read_stream, write_stream):  # AsyncFile-like
                lines.answer_on(write_stream)
                await server.run(read_stream, write_stream, server.create_initialization_options())
        finally:
            lines.receive.close()  # a line being handed over now fails, and the reader thread ends
