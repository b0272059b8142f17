"""providers/http.py against real HTTP over loopback: a scripted Starlette app under uvicorn, a raw TCP
server that hangs up after reading a request, and a port where nothing listens."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.base import ErrorCode, ProviderError
from providers.http import ProviderHTTP, RetryPolicy, backoff_delay, parse_retry_after, redact

pytestmark = pytest.mark.anyio

SECRET = "sk-SECRET-123"
# A read timeout long enough for a loaded CI machine to answer at once (at 0.2 s a 404 once arrived late and was
# retried), short enough for the tests that wait it out on a reply delayed past it (SLOW).
FAST = RetryPolicy(read_timeout=1.0, connect_timeout=1.0)
SLOW = 3.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- the scripted HTTP server ----------------------------------------------------------------------
@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Script:
    """Replies per path, served in order (the last one repeats), and what each path received."""

    url: str = ""
    replies: dict[str, list[Reply]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    seen: defaultdict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))

    def on(self, path: str, *replies: Reply) -> None:
        self.replies[path] = list(replies)

    def clear(self) -> None:
        self.replies.clear()
        self.hits.clear()
        self.seen.clear()


def make_app(script: Script) -> Starlette:
    async def handle(request: Request) -> Response:
        path = request.url.path
        script.hits[path] += 1
        script.seen[path].append(dict(request.headers))
        queue = script.replies.get(path) or [Reply(599, {"error": f"nothing scripted for {path}"})]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.body is None:
            return Response(status_code=reply.status, headers=reply.headers)
        return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

    methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", handle, methods=methods)])


@pytest.fixture(scope="module")
def server():
    script = Script()
    config = uvicorn.Config(
        make_app(script),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    script.url = f"http://127.0.0.1:{srv.servers[0].sockets[0].getsockname()[1]}"
    yield script
    srv.should_exit = True
    thread.join(5)


@pytest.fixture
def script(server: Script) -> Script:
    server.clear()
    return server


# -- a raw TCP server: reads a request, then hangs up with a RST or answers 200 ----------------------
class RawServer:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.actions = ["reset"]
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                self._read_request(conn)
                self.hits += 1
                action = self.actions.pop(0) if len(self.actions) > 1 else self.actions[0]
                if action == "reset":  # linger 0: close() sends a RST, "connection reset by peer"
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    body = b'{"ok": true}'
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        while len(body) < length:
            body += conn.recv(65536)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def raw_server():
    raw = RawServer()
    yield raw
    raw.close()


@pytest.fixture
def raw(raw_server: RawServer) -> RawServer:
    raw_server.hits, raw_server.actions = 0, ["reset"]
    return raw_server


@pytest.fixture
def refused_url():
    # Bound but not listening: connecting is refused, and no other process can take the port meanwhile.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


class Sleeps(list):
    """Stands in for anyio.sleep: records each delay instead of waiting."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(url: str, sleeps: Sleeps, **kwargs: Any) -> ProviderHTTP:
    kwargs.setdefault("policy", FAST)
    return ProviderHTTP("Runway", url, sleep=sleeps, **kwargs)


def within(value: float, nominal: float, jitter: float = FAST.jitter) -> bool:
    return nominal * (1 - jitter) - 1e-9 <= value <= nominal * (1 + jitter) + 1e-9


# -- retries ---------------------------------------------------------------------------------------
async def test_get_retried_after_503(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/tasks/1", Reply(503), Reply(200, {"id": "1"}))
    async with client(script.url, sleeps) as http:
        response = await http.request("GET", "/v1/tasks/1")
    assert response.json() == {"id": "1"}
    assert script.hits["/v1/tasks/1"] == 2
    assert len(sleeps) == 1 and within(sleeps[0], 0.5)


async def test_post_retried_after_503_because_the_server_refused(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/submit", Reply(503), Reply(201, {"id": "job"}))
    async with client(script.url, sleeps) as http:
        response = await http.request("POST", "/v1/submit", json={"prompt": "a cat"})
    assert response.status_code == 201
    assert script.hits["/v1/submit"] == 2


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_post_not_retried_after_an_ambiguous_5xx(script: Script, sleeps: Sleeps, status: int) -> None:
    script.on("/v1/submit", Reply(status, {"detail": "internal_error"}), Reply(201, {"id": "job"}))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={})
    assert script.hits["/v1/submit"] == 1 and sleeps == []
    assert caught.value.code == ErrorCode.SUBMIT_UNCONFIRMED and not caught.value.retryable
    assert caught.value.message.startswith("Runway: ") and f"HTTP {status}" in caught.value.message


async def test_post_read_timeout_is_unconfirmed_and_not_resent(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/submit", Reply(201, {"id": "job"}, delay=SLOW))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={})
    err = caught.value
    assert err.code == ErrorCode.SUBMIT_UNCONFIRMED and not err.retryable
    assert "may have reached Runway" in err.message and "not re-sent" in err.message
    assert script.hits["/v1/submit"] == 1 and sleeps == []


async def test_get_read_timeout_retried(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/tasks/1", Reply(200, {"late": True}, delay=SLOW), Reply(200, {"id": "1"}))
    async with client(script.url, sleeps) as http:
        response = await http.request("GET", "/v1/tasks/1")
    assert response.json() == {"id": "1"} and script.hits["/v1/tasks/1"] == 2


async def test_post_to_refused_port_retried_then_transient(refused_url: str, sleeps: Sleeps) -> None:
    async with client(refused_url, sleeps, policy=replace(FAST, attempts=3)) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={})
    err = caught.value
    assert err.code == ErrorCode.TRANSIENT and err.retryable
    assert "could not connect" in err.message and "after 3 attempts" in err.message
    assert len(sleeps) == 2


async def test_get_connection_reset_retried(raw: RawServer, sleeps: Sleeps) -> None:
    raw.actions = ["reset", "ok"]
    async with client(raw.url, sleeps) as http:
        response = await http.request("GET", "/v1/tasks/1")
    assert response.json() == {"ok": True} and raw.hits == 2 and len(sleeps) == 1


async def test_post_connection_reset_is_unconfirmed(raw: RawServer, sleeps: Sleeps) -> None:
    raw.actions = ["reset", "ok"]
    async with client(raw.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={"prompt": "x"})
    assert caught.value.code == ErrorCode.SUBMIT_UNCONFIRMED and not caught.value.retryable
    assert raw.hits == 1 and sleeps == []


async def test_idempotent_override(script: Script, sleeps: Sleeps) -> None:
    # A POST the caller knows is safe (e.g. with an idempotency key) is retried like a GET; PUT by default.
    script.on("/v1/query", Reply(500), Reply(200, {"ok": True}))
    script.on("/v1/cancel", Reply(502), Reply(202))
    async with client(script.url, sleeps) as http:
        assert (await http.request("POST", "/v1/query", idempotent=True)).status_code == 200
        assert (await http.request("PUT", "/v1/cancel")).status_code == 202
    assert script.hits["/v1/query"] == 2 and script.hits["/v1/cancel"] == 2


async def test_attempts_are_bounded_and_backoff_grows(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/tasks/1", Reply(503, {"detail": "runner_scheduling_failure"}))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("GET", "/v1/tasks/1")
    err = caught.value
    assert script.hits["/v1/tasks/1"] == FAST.attempts == 4
    assert err.code == ErrorCode.TRANSIENT and err.retryable and "after 4 attempts" in err.message
    assert "runner_scheduling_failure" in err.message
    assert len(sleeps) == 3 and all(within(d, n) for d, n in zip(sleeps, [0.5, 1.0, 2.0], strict=True))
    assert sleeps == sorted(sleeps)


async def test_fal_retryable_false_stops_retries(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/tasks/1", Reply(503, {"detail": "no"}, headers={"X-Fal-Retryable": "false"}))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("GET", "/v1/tasks/1")
    assert script.hits["/v1/tasks/1"] == 1 and not caught.value.retryable


def test_backoff_delay_bounds() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempt in range(10):
        nominal = min(policy.max_delay, policy.base_delay * 2**attempt)
        samples = [backoff_delay(attempt, policy, rng) for _ in range(200)]
        assert all(within(s, nominal, policy.jitter) for s in samples)
        assert max(samples) - min(samples) > nominal * policy.jitter  # the jitter is real
    assert backoff_delay(10_000, policy) <= policy.max_delay * (1 + policy.jitter)
    assert backoff_delay(2, replace(policy, jitter=0.0)) == 2.0


# -- Retry-After and rate-limit headers ------------------------------------------------------------
@pytest.mark.parametrize(
    ("make_headers", "expected"),
    [
        (lambda: {"Retry-After": "3"}, 3.0),
        (lambda: {"Retry-After": formatdate(time.time() + 30, usegmt=True)}, 30.0),
        (lambda: {"X-RateLimit-Reset": str(int(time.time()) + 20)}, 20.0),
    ],
    ids=["seconds", "http-date", "x-ratelimit-reset-epoch"],
)
async def test_retry_after_honoured(
    script: Script, sleeps: Sleeps, make_headers: Callable[[], dict[str, str]], expected: float
) -> None:
    headers = make_headers()  # now, not at collection: the dates are absolute
    script.on("/v1/submit", Reply(429, {"error": "slow down"}, headers=headers), Reply(201, {"id": "job"}))
    async with client(script.url, sleeps) as http:
        response = await http.request("POST", "/v1/submit", json={})
    assert response.status_code == 201 and script.hits["/v1/submit"] == 2
    assert len(sleeps) == 1 and abs(sleeps[0] - expected) <= 1.5


async def test_retry_after_beyond_max_raised_at_once(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/tasks/1", Reply(429, {"error": "Daily limit reached"}, headers={"Retry-After": "120"}))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("GET", "/v1/tasks/1")
    err = caught.value
    assert err.code == ErrorCode.RATE_LIMITED and err.retryable and err.retry_after == 120.0
    assert err.message.startswith("Runway: rate limited (HTTP 429)") and "retry after 120 s" in err.message
    assert "Daily limit reached" in err.message
    assert script.hits["/v1/tasks/1"] == 1 and sleeps == []


def test_parse_retry_after() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after({"retry-after": "2.5"}, now) == 2.5
    assert parse_retry_after({"Retry-After": formatdate(now + 42, usegmt=True)}, now) == pytest.approx(42, abs=1)
    assert parse_retry_after({"Retry-After": formatdate(now - 42, usegmt=True)}, now) == 0.0
    assert parse_retry_after({"X-RateLimit-Reset": str(int(now) + 9)}, now) == 9.0
    assert parse_retry_after({"X-RateLimit-Reset": str(int(now * 1000) + 4000)}, now) == pytest.approx(4.0)
    assert parse_retry_after({"RateLimit-Reset": "7"}, now) == 7.0  # IETF draft: seconds from now
    assert parse_retry_after({"Retry-After": "soon"}, now) is None
    assert parse_retry_after({"Retry-After": "nan"}, now) is None
    assert parse_retry_after({}, now) is None


# -- error mapping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "code", "fragment"),
    [
        (400, {"error": "promptText is too long"}, ErrorCode.INVALID_INPUT, "promptText is too long"),
        (
            400,
            {"error": "Validation of body failed", "issues": [{"path": ["ratio"], "message": "Invalid enum"}]},
            ErrorCode.INVALID_INPUT,
            "Validation of body failed; ratio: Invalid enum",
        ),
        (
            422,
            {"detail": [{"loc": ["body", "duration"], "msg": "unexpected value", "type": "literal_error"}]},
            ErrorCode.INVALID_INPUT,
            "duration: unexpected value",
        ),
        (401, {"error": "Invalid API key"}, ErrorCode.AUTH, "the API key was rejected (HTTP 401)"),
        (402, {"detail": "INSUFFICIENT_CREDITS"}, ErrorCode.OUT_OF_CREDIT, "INSUFFICIENT_CREDITS"),
        (404, {"code": 1203, "message": "task not found"}, ErrorCode.NOT_FOUND, "task not found (code 1203)"),
        (404, None, ErrorCode.NOT_FOUND, "not found (HTTP 404) on GET /v1/tasks/1."),
    ],
)
async def test_default_error_mapping(
    script: Script, sleeps: Sleeps, status: int, body: Any, code: ErrorCode, fragment: str
) -> None:
    script.on("/v1/tasks/1", Reply(status, body))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("GET", "/v1/tasks/1")
    err = caught.value
    assert err.code == code and not err.retryable and err.retry_after is None
    assert err.message.startswith("Runway: ") and f"HTTP {status}" in err.message and fragment in err.message
    assert script.hits["/v1/tasks/1"] == 1 and sleeps == []


async def test_long_provider_message_trimmed(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/submit", Reply(400, {"error": "x" * 5000}))
    async with client(script.url, sleeps) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/submit", json={})
    assert caught.value.message.count("x") <= 500 and len(caught.value.message) < 600


async def test_custom_error_mapper(script: Script, sleeps: Sleeps) -> None:
    def kling_errors(response: Any) -> ProviderError | None:
        if response.status_code == 429 and response.json().get("code") == 1102:
            return ProviderError(ErrorCode.OUT_OF_CREDIT, f"Kling: resource pack depleted ({SECRET})")
        return None

    script.on("/v1/videos/text2video", Reply(429, {"code": 1102, "message": "resource pack depleted"}))
    script.on("/v1/videos/text2video/x", Reply(404, {"code": 1203, "message": "no such task"}))
    async with client(script.url, sleeps, error_mapper=kling_errors, secrets=[SECRET]) as http:
        with pytest.raises(ProviderError) as caught:
            await http.request("POST", "/v1/videos/text2video", json={})
        with pytest.raises(ProviderError) as fallback:
            await http.request("GET", "/v1/videos/text2video/x")
    # The mapper's verdict (not retryable) stops the retries a 429 would otherwise get.
    assert caught.value.code == ErrorCode.OUT_OF_CREDIT and not caught.value.retryable
    assert caught.value.message == "Kling: resource pack depleted (***)" and str(caught.value) == caught.value.message
    assert script.hits["/v1/videos/text2video"] == 1 and sleeps == []
    assert fallback.value.code == ErrorCode.NOT_FOUND and "no such task" in fallback.value.message


async def test_unexpected_success_status_and_expected(script: Script, sleeps: Sleeps) -> None:
    script.on("/v1/tasks/1", Reply(404, {"detail": "gone"}))
    async with client(script.url, sleeps) as http:
        assert (await http.request("GET", "/v1/tasks/1", expected=(200, 404))).status_code == 404


# -- auth and secrets ------------------------------------------------------------------------------
async def test_auth_called_per_attempt(script: Script, sleeps: Sleeps) -> None:
    issued = iter(range(1, 100))

    def jwt() -> dict[str, str]:
        return {"Authorization": f"Bearer jwt-{next(issued)}"}

    script.on("/v1/tasks/1", Reply(503), Reply(503), Reply(200, {"id": "1"}))
    async with client(script.url, sleeps, auth=jwt, headers={"X-Runway-Version": "2024-11-06"}) as http:
        await http.request("GET", "/v1/tasks/1")
    seen = script.seen["/v1/tasks/1"]
    assert [h["authorization"] for h in seen] == ["Bearer jwt-1", "Bearer jwt-2", "Bearer jwt-3"]
    assert all(h["x-runway-version"] == "2024-11-06" for h in seen)


@pytest.mark.parametrize("configured", [True, False], ids=["secrets-configured", "header-only"])
async def test_secrets_never_leak(
    script: Script, sleeps: Sleeps, refused_url: str, caplog: pytest.LogCaptureFixture, configured: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    leak = f"key {SECRET} rejected; see https://cdn.example/v.mp4?sig={SECRET}&exp=1"
    script.on("/v1/echo", Reply(401, {"error": leak}))
    script.on("/v1/slow", Reply(200, {}, delay=SLOW))
    script.on("/v1/down", Reply(503, {"message": leak}))
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {SECRET}"}}
    if configured:
        kwargs["secrets"] = [SECRET]
    errors: list[ProviderError] = []
    calls = [
        (script.url, "GET", f"/v1/echo?token={SECRET}"),
        (script.url, "POST", f"/v1/slow?token={SECRET}"),
        (script.url, "GET", f"/v1/down?token={SECRET}"),
        (refused_url, "POST", f"{refused_url}/v1/submit?token={SECRET}"),
    ]
    for url, method, target in calls:
        async with client(url, sleeps, **kwargs) as http:
            with pytest.raises(ProviderError) as caught:
                await http.request(method, target)
            errors.append(caught.value)
    assert [e.code for e in errors] == [
        ErrorCode.AUTH,
        ErrorCode.SUBMIT_UNCONFIRMED,
        ErrorCode.TRANSIENT,
        ErrorCode.TRANSIENT,
    ]
    assert "key *** rejected" in errors[0].message and "https://cdn.example/v.mp4" in errors[0].message
    for err in errors:
        assert err.__cause__ is None and err.__context__ is None
        for text in (err.message, str(err), repr(err)):
            assert SECRET not in text and "sig=" not in text and "token=" not in text
    assert "videogen.http" in {r.name for r in caplog.records}
    assert SECRET not in caplog.text and "token=" not in caplog.text


async def test_debug_logs_never_show_a_redirects_signed_url(
    script: Script, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # what --debug turns on: httpcore then logs every response header
    caplog.set_level(logging.DEBUG, logger="httpcore")  # even where another module quietened httpcore
    signed = f"https://cdn.example/v.mp4?token={SECRET}&X-Amz-Signature=s1gn4tur3&X-Amz-Expires=600"
    script.on("/v1/video", Reply(302, headers={"Location": signed, "Set-Cookie": "session=c00kie-value"}))
    import httpx  # httpcore's transport (the one under trio) is the one that logs every header

    headers = {"Authorization": "Key abc-123:s3cr3t-part"}
    async with client(script.url, sleeps, headers=headers, transport=httpx.AsyncHTTPTransport()) as http:
        response = await http.request("GET", f"/v1/video?token={SECRET}", expected=(302,))
    assert response.headers["location"] == signed  # the caller still gets the real URL
    assert {"httpx", "httpcore.http11"} <= {r.name for r in caplog.records}, "debug logging did not run"
    assert "https://cdn.example/v.mp4" in caplog.text
    for leak in (SECRET, "s1gn4tur3", "token=", "c00kie-value", "s3cr3t-part"):
        assert leak not in caplog.text


def test_redact() -> None:
    assert redact(f"Authorization: Bearer {SECRET}") == "Authorization: ***"
    assert redact(f"sent Bearer {SECRET}!") == "sent Bearer ***!"
    assert redact("Authorization: Key 1a2b3c4d-5e6f:abcdef0123") == "Authorization: ***"
    assert redact("header Key 1a2b3c4d-5e6f:abcdef0123 used") == "header Key *** used"
    assert redact("Key rotation is due") == "Key rotation is due"
    assert redact("GET https://user:pw@host.example/a/b?sig=1#frag done") == "GET https://***@host.example/a/b done"
    assert redact("path /v1/file?X-Amz-Signature=abc, and/or?") == "path /v1/file, and/or?"
    assert redact("(see https://x.example/v?a=1,2&sig=s3cr3t).") == "(see https://x.example/v)."
    assert redact(f"my {SECRET} and {SECRET}x", [SECRET, "sk-"]) == "my *** and ***x"
    assert redact("abc abc", ["abc", ""]) == "abc abc"  # too short to be a credential
    headers = """[(b'location', b'/v?sig=1'), (b'Set-Cookie', b'id=2'), (b'x-api-key', b"it's"), (b'etag', b'4')]"""
    masked = """[(b'location', b'/v'), (b'Set-Cookie', b'***'), (b'x-api-key', b"***"), (b'etag', b'4')]"""
    assert redact(headers) == masked


def test_httpx_not_imported_with_the_module() -> None:
    root = Path(__file__).resolve().parents[1]
    code = "import sys, providers.http; assert 'httpx' not in sys.modules, 'httpx imported eagerly'"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
