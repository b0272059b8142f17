"""`mcp-videogen serve` over SSE and streamable HTTP, reached by the SDK's own HTTP clients."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client
from mcp.client.sse import sse_client

from providers.simulators.common import free_port

pytestmark = pytest.mark.anyio


@contextmanager
def serving(
    env: dict[str, str], transport: str, *extra: str, port: int | None = None, log: Path | None = None
) -> Iterator[str]:
    """`python -m server [--debug] serve --transport ...` as a process; yields its URL. With `log`, the server
    runs with --debug and its stderr is appended there (a fixed `port` lets a test restart it in place)."""
    port = port or free_port()
    debug = ["--debug"] if log else []
    errors = open(log, "a") if log else subprocess.PIPE
    process = subprocess.Popen(
        [PYTHON, "-m", "server", *debug, "serve", "--transport", transport, "--port", str(port), *extra],
        env=subprocess_env(env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = log.read_text() if log else process.stderr.read()
                    raise AssertionError(f"server did not start: {output}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if log:
            errors.close()


async def _exercise(client: Client) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    names = {t.name for t in (await client.list_tools()).tools}
    assert {"generate_video", "get_status", "list_models", "estimate_cost"} <= names
    result = await client.call_tool(
        "generate_video",
        {"prompt": "over the wire", "duration": 1, "resolution": "360p"},
        progress_callback=on_progress,
    )
    assert result.structured_content["status"] == "succeeded", result.content
    status = await client.call_tool("get_status", {"job_id": result.structured_content["job_id"]})
    assert status.structured_content["video"]["path"] == result.structured_content["video"]["path"]
    assert progress and progress[-1] == 100


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_streamable_http(env: dict[str, str], mode: str):
    with serving(env, "streamable-http") as url:
        async with Client(f"{url}/mcp", mode=mode) as client:
            await _exercise(client)


async def test_sse_with_two_clients_sharing_one_engine(env: dict[str, str]):
    with serving(env, "sse") as url:
        async with Client(sse_client(f"{url}/sse"), mode="legacy") as first:
            await _exercise(first)
            made = (await first.call_tool("list_jobs", {})).structured_content["jobs"]
            async with Client(sse_client(f"{url}/sse"), mode="legacy") as second:
                seen = (await second.call_tool("list_jobs", {})).structured_content["jobs"]
        assert [j["job_id"] for j in seen] == [j["job_id"] for j in made]


def test_http_binds_loopback_and_refuses_foreign_hosts(env: dict[str, str]):
    with serving(env, "streamable-http") as url:
        # DNS-rebinding protection is on for a loopback bind: a foreign Host header is refused.
        response = httpx.post(
            f"{url}/mcp",
            headers={"Host": "evil.example", "Content-Type": "application/json"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        assert response.status_code == 421


TOKEN = "t0ken-" + "9" * 32


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_an_auth_token_is_required_on_every_request(env: dict[str, str], transport: str):
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    path = "/mcp" if transport == "streamable-http" else "/sse"
    with serving({**env, "VIDEOGEN_AUTH_TOKEN": TOKEN}, transport) as url:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = httpx.get(f"{url}{path}", headers=headers)
            assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in response.text
        auth = {"Authorization": f"Bearer {TOKEN}"}
        if transport == "sse":
            client = Client(sse_client(f"{url}/sse", headers=auth), mode="legacy")
        else:
            client = Client(streamable_http_client(f"{url}/mcp", http_client=create_mcp_http_client(headers=auth)))
        async with client:
            assert (await client.call_tool("list_jobs", {})).structured_content == {"jobs": []}


def test_a_public_bind_needs_a_token_or_an_explicit_insecure(env: dict[str, str]):
    refused = subprocess.run(
        [
            PYTHON,
            "-m",
            "server",
            "serve",
            "--transport",
            "streamable-http",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        env=subprocess_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2 and "VIDEOGEN_AUTH_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    short = subprocess.run(
        [PYTHON, "-m", "server", "serve", "--transport", "sse", "--auth-token", "short"],
        env=subprocess_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert short.returncode == 2 and "at least 16 characters" in short.stderr


def test_allowed_hosts_extend_the_rebinding_protection(env: dict[str, str]):
    with serving(env, "streamable-http", "--allowed-host", "videogen.internal") as url:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        evil = httpx.post(f"{url}/mcp", headers={"Host": "evil.example"}, json=body)
        assert evil.status_code == 421
        origin = httpx.post(f"{url}/mcp", headers={"Origin": "http://evil.example"}, json=body)
        assert origin.status_code == 403
        allowed = httpx.post(
            f"{url}/mcp",
            headers={
                "Host": "videogen.internal",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
            json=body,
        )
        assert allowed.status_code not in (403, 421)


def _big_png() -> bytes:
    """A real PNG just under the documented image limit (noise does not compress)."""
    import io
    import os

    from PIL import Image

    from providers.images import MAX_IMAGE_BYTES

    side = 1800
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=0)
    data = out.getvalue()
    assert MAX_IMAGE_BYTES - 1024 * 1024 < len(data) <= MAX_IMAGE_BYTES
    return data


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_a_request_with_an_image_at_the_size_limit_gets_through(env: dict[str, str], transport: str):
    import base64

    image = "data:image/png;base64," + base64.b64encode(_big_png()).decode()
    with serving(env, transport) as url:
        client = (
            Client(f"{url}/mcp") if transport == "streamable-http" else Client(sse_client(f"{url}/sse"), mode="legacy")
        )
        # A refused POST leaves the SDK's SSE client waiting forever: bound the wait.
        with anyio.fail_after(120):
            async with client:
                result = await client.call_tool("estimate_cost", {"prompt": "from this frame", "images": [image]})
    assert not result.is_error, result.content
    assert result.structured_content["provider"] == "demo"


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_a_body_above_the_limit_is_refused_with_413_before_it_is_read(env: dict[str, str], transport: str):
    from server.transport import DEFAULT_MAX_MESSAGE_BYTES

    path = "/mcp" if transport == "streamable-http" else "/messages/?session_id=0"
    with serving(env, transport) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            # Headers only: the answer must come without the server waiting for (or holding) the body.
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\n"
                f"Content-Length: {DEFAULT_MAX_MESSAGE_BYTES + 1}\r\n\r\n".encode()
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        error = json.loads(body)["error"]
        assert "larger than the server's limit of 80 MB (VIDEOGEN_MAX_REQUEST_MB)" in error["message"]
        assert "URLs or local file paths" in error["message"]
