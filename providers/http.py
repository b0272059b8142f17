"""The one HTTP client every provider adapter shares: retries that never pay twice, errors in our terms.

A retry is only safe when it cannot create (and bill) a second job. Idempotent requests (polls, cancels)
are retried on any network fault or retryable status. A submit is retried only when the failure proves
the provider never took it: the connection was never made, or the provider answered 429 or 503 (it
refused the work). Any other failure after a submit may have been sent is SUBMIT_UNCONFIRMED, so the
engine reconciles instead of re-sending.

Every string that leaves this module (error messages, log records) passes through `redact`.
"""

from __future__ import annotations

import functools
import logging
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import anyio

from .errors import ErrorCode, ProviderError

if TYPE_CHECKING:  # httpx costs ~0.1 s to import: loaded on first use, not at server start
    import httpx

    from .keepalive import KeepAliveGets

log = logging.getLogger("videogen.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Answers by which a server refuses the work outright: even a submit may be sent again.
REFUSED_STATUSES = frozenset({429, 503})
# Parsed URLs kept per client (a few per job: its status URL, its cancel URL).
URL_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `attempts` counts every try, the first included."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25  # +/- this fraction, so clients that failed together do not retry together
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retry_after: float = 60.0  # a longer wait is the caller's call: raised at once with retry_after

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))


DEFAULT_POLICY = RetryPolicy()


class _Uniform(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def backoff_delay(attempt: int, policy: RetryPolicy, rng: _Uniform = random) -> float:
    """Seconds to wait after failed try number `attempt` (0-based): exponential, capped, jittered."""
    delay = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt, 62))
    return delay * (1 + rng.uniform(-policy.jitter, policy.jitter))


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, or None if it does not say.

    Reads Retry-After (seconds or an HTTP-date), then X-RateLimit-Reset / RateLimit-Reset, which
    providers send as epoch seconds, epoch milliseconds or seconds from now (told apart by size).
    """
    lower = {name.lower(): value for name, value in headers.items()}
    now = time.time() if now is None else now
    value = lower.get("retry-after", "").strip()
    if value:
        seconds = _number(value)
        if seconds is None:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError, OverflowError):
                when = None
            if when is not None:
                seconds = when.replace(tzinfo=when.tzinfo or timezone.utc).timestamp() - now
        if seconds is not None:
            return max(0.0, seconds)
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        reset = _number(lower.get(name, ""))
        if reset is not None:
            if reset > 1e12:
                reset = reset / 1000 - now
            elif reset > 1e9:
                reset -= now
            return max(0.0, reset)
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# -- redaction -----------------------------------------------------------------------------------
_AUTH_VALUE = re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[\w.~+/=:-]+")
# fal's "Key <id>:<secret>"; a digit is required so prose like "Key rotation" survives.
_KEY = re.compile(r"\b(Key)\s+(?=[\w.~+/=:-]*\d)[\w.~+/=:-]{8,}")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@")
# Signed download URLs carry their token in the query string: drop queries (and fragments) entirely.
_QUERY = re.compile(
    r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s?#\"'<>]*|(?<![\w/])/[^\s?#\"'<>]*)"
    r"[?#][^\s\"'<>]*?(?=[.,;:!?)\]]*(?:[\s\"'<>]|$))"  # keeps the sentence's trailing punctuation
)
_SENSITIVE_HEADER = re.compile(r"(?i)auth|key|token|secret|cookie|signature")
# A header as httpcore's debug log prints it: (b'set-cookie', b'session=...').
_HEADER_PAIR = re.compile(r"""\((b?(['"]))([\w-]+)\2, (b?(['"]))(.*?)\5\)""")


def _mask_header(match: re.Match[str]) -> str:
    if not _SENSITIVE_HEADER.search(match[3]):
        return match[0]
    return f"({match[1]}{match[3]}{match[2]}, {match[4]}***{match[5]})"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each secret, credential-looking token and URL query string replaced or dropped."""
    # Longest first, so a secret that contains another is replaced whole; very short strings are not
    # credentials, and replacing them would shred the message.
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _AUTH_VALUE.sub(r"\1***", text)
    text = _BEARER.sub(r"\1 ***", text)
    text = _KEY.sub(r"\1 ***", text)
    text = _USERINFO.sub(r"\1***@", text)
    text = _HEADER_PAIR.sub(_mask_header, text)
    return _QUERY.sub(r"\1", text)


def _header_secrets(headers: Mapping[str, str], every: bool = False) -> list[str]:
    """Values of credential headers, whole and without their scheme ("Bearer <token>" -> "<token>")."""
    found = []
    for name, value in headers.items():
        if every or _SENSITIVE_HEADER.search(name):
            found += [value, *value.split()[1:]]
    return found


class RedactingFilter(logging.Filter):
    """httpx logs every request URL at INFO, and httpcore every response header at DEBUG (a redirect's
    Location with a signed URL's token, cookies): each record leaves with `redact` applied."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        return True


# A logger's filter sees only the records made by that very logger, not its children's: name each one.
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack.hpack",
    "hpack.table",
)


def guard_http_logs() -> None:
    """Redact what the HTTP libraries log, whoever configured logging (idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


# -- error mapping -------------------------------------------------------------------------------
_MEANINGS: dict[int, tuple[ErrorCode, str]] = {
    400: (ErrorCode.INVALID_INPUT, "the request was rejected"),
    422: (ErrorCode.INVALID_INPUT, "the request was rejected"),
    401: (ErrorCode.AUTH, "the API key was rejected"),
    403: (ErrorCode.AUTH, "the API key was rejected or lacks permission"),
    402: (ErrorCode.OUT_OF_CREDIT, "out of credit"),
    404: (ErrorCode.NOT_FOUND, "not found"),
    410: (ErrorCode.NOT_FOUND, "gone"),
    408: (ErrorCode.TRANSIENT, "the server timed out waiting for the request"),
    429: (ErrorCode.RATE_LIMITED, "rate limited"),
}
_MESSAGE_KEYS = ("error", "message", "detail", "title", "msg", "issues", "errors")
_MAX_DETAIL = 500


def _meaning(status: int) -> tuple[ErrorCode, str]:
    if status in _MEANINGS:
        return _MEANINGS[status]
    if status >= 500:
        return ErrorCode.TRANSIENT, "server error"
    if status >= 400:
        return ErrorCode.INVALID_INPUT, "the request was rejected"
    return ErrorCode.INTERNAL, "unexpected response"


def describe(value: Any) -> str:
    """The human part of an error body: Runway's error + issues, fal's detail (string or list of
    {loc, msg}), Kling's message + code, Wireflow's and runblob's error / message. Public: the adapters'
    error models (providers.base.ErrorAnswer) read bodies with it too."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "; ".join(filter(None, map(describe, value)))
    if not isinstance(value, dict):
        return ""
    message, where = value.get("msg") or value.get("message"), value.get("loc") or value.get("path")
    if isinstance(message, str) and where:
        parts = [str(p) for p in where] if isinstance(where, list) else [str(where)]
        if parts[:1] == ["body"] and len(parts) > 1:
            parts = parts[1:]
        return f"{'.'.join(parts)}: {message}"
    text = "; ".join(dict.fromkeys(filter(None, (describe(value[k]) for k in _MESSAGE_KEYS if k in value))))
    code = value.get("code")
    if text and code not in (None, 0, "") and not isinstance(code, bool):
        text += f" (code {code})"
    return text


_describe = describe  # the name it had while private


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")


def _with_query(path_or_url: str, params: Mapping[str, Any]) -> str | None:
    """`path_or_url` with `params` as its query string, when every name and value is plain text that needs no
    escaping (so the URL is the one httpx would build); None otherwise."""
    if any(v is None for v in params.values()) or "?" in path_or_url or "#" in path_or_url:
        return None  # httpx would replace an existing query; leave that to it
    pairs = [(str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()]
    if not all(_PLAIN.fullmatch(k) and _PLAIN.fullmatch(v) for k, v in pairs):
        return None
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{path_or_url}?{query}"


# -- the transport -------------------------------------------------------------------------------
def fast_transport() -> httpx.AsyncBaseTransport | None:
    """httpx over aiohttp (httpx-aiohttp) when the event loop is asyncio, else None (httpx's own httpcore, as
    under trio). A keep-alive status GET costs about a third of the CPU that way (BENCHMARKS.md): with a
    thousand jobs polled, the HTTP client is most of what the engine spends."""
    if not _asyncio_without_proxy():
        return None
    try:
        import httpx_aiohttp
    except ImportError:
        return None
    import httpx

    from .keepalive import IDLE_SECONDS

    # Idle connections are dropped before the 5 s after which common servers (uvicorn, Node) close theirs: a
    # submit sent on a connection closing under it is lost mid-way, SUBMIT_UNCONFIRMED (seen at 10,000 jobs).
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=IDLE_SECONDS)
    return _aiohttp_transport_class(httpx_aiohttp.AiohttpTransport)(limits=limits)


def _asyncio_without_proxy() -> bool:
    """Whether the leaner clients may carry requests: the loop is asyncio, and the environment names no proxy
    (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, lower case too), which only httpx's own transport honours."""
    import urllib.request

    import sniffio

    try:
        if sniffio.current_async_library() != "asyncio":
            return False
    except sniffio.AsyncLibraryNotFoundError:
        return False
    return not any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


@functools.cache
def _aiohttp_transport_class(base: type) -> type:
    """httpx-aiohttp's transport, its errors mapped as httpcore's would be. Its own table makes a connection
    lost after the request went out (a reset, a server hanging up) a ConnectTimeout, which says nothing was
    sent: a submit would be resent and could be billed twice. Here only a connection never made says so."""
    import aiohttp
    import httpx

    def mapped(exc: BaseException) -> BaseException:
        cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) and exc.__cause__ is not None else exc
        text = str(cause) or type(cause).__name__
        if isinstance(cause, aiohttp.ConnectionTimeoutError):  # aiohttp's `connect`: pool wait + connecting
            return httpx.ConnectTimeout(text)
        if isinstance(cause, aiohttp.ClientConnectorError):  # refused, unreachable, DNS, TLS handshake
            return httpx.ConnectError(text)
        if isinstance(cause, (aiohttp.ServerTimeoutError, TimeoutError)):
            return httpx.ReadTimeout(text)
        if isinstance(cause, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
            return httpx.RemoteProtocolError(text)
        if isinstance(cause, aiohttp.ClientResponseError):  # an answer that is not HTTP
            return httpx.RemoteProtocolError(text)
        if isinstance(cause, (aiohttp.InvalidURL, httpx.UnsupportedProtocol)):
            return httpx.UnsupportedProtocol(text)
        if isinstance(cause, (aiohttp.ClientError, OSError)):  # a reset or a broken pipe after sending
            return httpx.ReadError(text)
        return exc

    class Stream(httpx.AsyncByteStream):
        def __init__(self, inner: httpx.AsyncByteStream):
            self._inner = inner

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._inner:
                    yield chunk
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
                raise mapped(exc) from None

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
                raise mapped(exc) from None

    class Transport(base):
        def get_client(self) -> aiohttp.ClientSession:
            session = super().get_client()
            # aiohttp sends a GET again at once after a reset; ProviderHTTP's own retries (counted, with
            # backoff) decide that.
            session._retry_connection = False
            return session

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                response = await super().handle_async_request(request)
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
                raise mapped(exc) from None
            response.stream = Stream(response.stream)
            return response

    return Transport


# -- the client ----------------------------------------------------------------------------------
class ProviderHTTP:
    """One provider's HTTP client: a pooled httpx.AsyncClient, retries, error mapping and redaction."""

    def __init__(
        self,
        provider_title: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Callable[[], Mapping[str, str]] | None = None,
        secrets: Sequence[str] = (),
        policy: RetryPolicy = DEFAULT_POLICY,
        error_mapper: Callable[[httpx.Response], ProviderError | None] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.title = provider_title
        self.base_url = base_url
        self.policy = policy
        self._headers = dict(headers or {})
        self._auth = auth
        self._error_mapper = error_mapper
        self._sleep = sleep
        self._transport = transport
        self._secrets = (*secrets, *_header_secrets(self._headers))
        self._recent: tuple[str, ...] = ()  # the latest per-request credentials (e.g. a fresh JWT)
        self._client: httpx.AsyncClient | None = None
        self._gets: KeepAliveGets | None = None  # plain GETs on asyncio (see _lean_client)
        self._urls: dict[str, tuple[httpx.URL, str]] = {}  # see _url
        self._requests: dict[str, httpx.Request] = {}  # see _request_for

    def redact(self, text: str) -> str:
        return redact(text, (*self._secrets, *self._recent))

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        expected: Iterable[int] = (200, 201, 202, 204),
    ) -> httpx.Response:
        """Send a request, retrying what is safe to retry; return a response with an expected status
        or raise ProviderError. `files` sends multipart/form-data, as httpx takes it."""
        import httpx

        method = method.upper()
        idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        expected = frozenset(expected)
        client = self._http()
        lean = self._gets if method == "GET" and json is None and not files else None
        if lean is not None and params:  # fal's `?logs=1`: in the URL, so the URL is parsed once, not per poll
            folded = _with_query(path_or_url, params)
            lean = None if folded is None else lean
            path_or_url, params = (path_or_url, params) if folded is None else (folded, None)
        url, path = self._url(client, path_or_url)
        where = f"{method} {path}"
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            try:
                if lean is not None and isinstance(url, httpx.URL):
                    request = self._request_for(path_or_url, url)
                    response = await lean.get(url, request, self._lean_headers(headers))
                else:
                    response = await client.request(
                        method, url, json=json, params=params, files=files, headers=self._request_headers(headers)
                    )
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                log.debug("%s failed: %s (attempt %d/%d)", where, type(exc).__name__, attempt, attempts)
                error, delay = self._network_error(exc, where, idempotent, attempt)
            else:
                log.debug("%s -> %d (attempt %d/%d)", where, response.status_code, attempt, attempts)
                if response.status_code in expected:
                    return response
                error, delay = self._status_error(response, where, idempotent, attempt)
            # Raised outside the except block, so no httpx exception (whose repr may hold a URL with
            # a token) rides along as __context__.
            if delay is None or attempt == attempts:
                raise error from None
            log.debug("%s: retrying in %.2f s", where, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._gets is not None:
            gets, self._gets = self._gets, None
            await gets.aclose()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> ProviderHTTP:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- internals -----------------------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            guard_http_logs()
            timeout = httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout)
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=timeout,
                transport=self._transport or fast_transport(),
            )
            self._gets = self._lean_client(self._client)
        return self._client

    def _lean_client(self, client: httpx.AsyncClient) -> KeepAliveGets | None:
        """The lean client for plain GETs (providers/keepalive.py), on asyncio when no transport was given
        and no proxy is configured (see _asyncio_without_proxy)."""
        import httpx

        if self._transport is not None or not _asyncio_without_proxy():
            return None
        from .keepalive import KeepAliveGets

        agent = client.headers.get("user-agent", f"python-httpx/{httpx.__version__}")
        return KeepAliveGets(
            connect_timeout=self.policy.connect_timeout, read_timeout=self.policy.read_timeout, user_agent=agent
        )

    def _lean_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        """The client's headers with this request's over them, names compared without case (as httpx does)."""
        merged = {name.lower(): (name, value) for name, value in self._headers.items()}
        for name, value in self._request_headers(extra).items():
            merged[name.lower()] = (name, value)
        return dict(merged.values())

    def _request_for(self, path_or_url: str, url: httpx.URL) -> httpx.Request:
        """The httpx.Request a lean GET's response names, one per path as _url keeps them (building one costs
        more than the GET; keyed by the caller's string, whose hash Python keeps, not the URL object's)."""
        import httpx

        request = self._requests.get(path_or_url)
        if request is None:
            if len(self._requests) >= URL_CACHE_SIZE:
                self._requests.clear()
            request = self._requests[path_or_url] = httpx.Request("GET", url)
        return request

    def _url(self, client: httpx.AsyncClient, path_or_url: str) -> tuple[httpx.URL | str, str]:
        """(the URL to send to, its redacted path), made once per path: parsing and checking a URL and
        redacting its path cost more CPU than the rest of a status poll. A URL httpx rejects is passed on as
        given, so the request fails as it always did."""
        import httpx

        known = self._urls.get(path_or_url)
        if known is None:
            path = self.redact(urlsplit(str(path_or_url)).path or "/")
            try:
                known = (client.build_request("GET", path_or_url).url, path)
            except (httpx.HTTPError, httpx.InvalidURL):
                return path_or_url, path
            if len(self._urls) >= URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[path_or_url] = known
        return known

    def _request_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        # auth() runs per attempt, so a rotating token (Kling's 30-minute JWT) is never stale.
        fresh = dict(self._auth()) if self._auth else {}
        extra = dict(extra or {})
        self._recent = (*_header_secrets(fresh, every=True), *_header_secrets(extra))
        return {**fresh, **extra}

    def _network_error(
        self, exc: Exception, where: str, idempotent: bool, attempt: int
    ) -> tuple[ProviderError, float | None]:
        import httpx

        kind = type(exc).__name__
        reason = self.redact(str(exc)).strip()[:200]
        cause = f"{kind}: {reason}" if reason else kind
        tries = f" after {attempt} attempts" if attempt > 1 else ""
        if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)):
            error = ProviderError(ErrorCode.INTERNAL, f"{self.title}: could not send {where} ({cause}).")
            return error, None
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            # No connection, so nothing was sent: safe to send again, even a submit.
            what = f"could not connect for {where}"
        else:  # a timeout, a reset, a server that hung up or sent garbage: after the request went out
            lost = "no response in time" if isinstance(exc, httpx.TimeoutException) else "connection lost"
            what = f"{lost} for {where}"
            if not idempotent:
                return self._unconfirmed(f"{what} ({kind})"), None
        error = ProviderError(ErrorCode.TRANSIENT, f"{self.title}: {what} ({cause}){tries}.")
        return error, backoff_delay(attempt - 1, self.policy)

    def _unconfirmed(self, what: str) -> ProviderError:
        return ProviderError(
            ErrorCode.SUBMIT_UNCONFIRMED,
            f"{self.title}: {what}; the request may have reached {self.title}; "
            "it was not re-sent to avoid paying twice.",
            retryable=False,
        )

    def _status_error(
        self, response: httpx.Response, where: str, idempotent: bool, attempt: int
    ) -> tuple[ProviderError, float | None]:
        status = response.status_code
        wait = parse_retry_after(response.headers) if status in REFUSED_STATUSES else None
        error = self._error_mapper(response) if self._error_mapper else None
        if error is None:
            error = self._default_error(response, where, wait, attempt)
        else:
            error.message = self.redact(error.message)
            error.args = (error.message,)
        if error.retry_after is None:
            error.retry_after = wait
        if response.headers.get("x-fal-retryable", "").strip().lower() == "false":
            error.retryable = False
        refused = status in REFUSED_STATUSES
        if not idempotent and status >= 500 and not refused and error.retryable:
            # A 500/502/504 may come after the job was created (a gateway timing out on a slow
            # upstream): sending the submit again, or calling this retryable, could bill twice.
            detail = self._detail(response)
            return self._unconfirmed(f"HTTP {status} in reply to {where}" + (f" ({detail})" if detail else "")), None
        if not (error.retryable and status in self.policy.retry_statuses and (idempotent or refused)):
            return error, None
        if wait is None:
            return error, backoff_delay(attempt - 1, self.policy)
        return error, (wait if wait <= self.policy.max_retry_after else None)

    def _default_error(
        self, response: httpx.Response, where: str, retry_after: float | None, attempt: int
    ) -> ProviderError:
        status = response.status_code
        code, what = _meaning(status)
        text = f"{self.title}: {what} (HTTP {status}) on {where}"
        if detail := self._detail(response):
            text += f": {detail}"
        if retry_after is not None:
            text += f"; retry after {math.ceil(retry_after)} s"
        if attempt > 1:
            text += f" (after {attempt} attempts)"
        return ProviderError(code, text + ".", retry_after=retry_after)

    def _detail(self, response: httpx.Response) -> str:
        try:
            text = describe(response.json())
        except ValueError:  # not JSON; an HTML error page says nothing useful
            text = "" if response.text.lstrip().startswith("<") else response.text
        # Redact before trimming, so a secret cut in half cannot slip past.
        text = " ".join(self.redact(text).split())
        return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
