"""Browser tests: a real Chromium (Debian's package) driven by Playwright. Skipped, with the reason, where
either is missing; CI installs both (`apt-get install -y chromium`, `pip install -e ".[test]"`)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

HERE = Path(__file__).resolve().parent
# Never `playwright install` (no internet): the system's Chromium, launched as a quiet headless browser.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """VIDEOGEN_CHROMIUM when set (only that), else Debian's /usr/bin/chromium or a chromium on PATH."""
    named = os.environ.get("VIDEOGEN_CHROMIUM")
    candidates = [named] if named else ["/usr/bin/chromium", shutil.which("chromium")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def missing(reason: str) -> NoReturn:
    """Skip on a developer's machine without it; in CI (.ci/run installs both) a missing browser is a failure."""
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI installs it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    """A Chromium for one test. Not kept for the session: Playwright's sync API holds an asyncio loop while it
    runs, which would break every anyio test that follows in the same worker."""
    executable = chromium_path()
    if executable is None:
        missing(
            "no Chromium at VIDEOGEN_CHROMIUM, /usr/bin/chromium or on PATH: install Debian's package "
            "(apt-get install -y chromium) or point VIDEOGEN_CHROMIUM at one"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing('no Playwright: pip install -e ".[test]" (never `playwright install`: the system Chromium is used)')
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 640, "height": 480})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    context.close()


class _Host(BaseHTTPRequestHandler):
    """The test host's web server: its page, the local player, and /mcp relayed to the MCP server."""

    server_url = ""
    player = ""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/":
            self._send(200, (HERE / "host.html").read_bytes(), {"content-type": "text/html; charset=utf-8"})
        elif self.path == "/player.html":
            self._send(200, self.player.encode(), {"content-type": "text/html; charset=utf-8"})
        else:
            self._send(404, b"", {})

    def do_POST(self) -> None:
        if self.path != "/mcp":
            return self._send(404, b"", {})
        body = self.rfile.read(int(self.headers["content-length"]))
        keep = ("content-type", "accept", "mcp-session-id", "mcp-protocol-version")
        headers = {k: v for k, v in self.headers.items() if k.lower() in keep}
        answer = httpx.post(f"{self.server_url}/mcp", content=body, headers=headers, timeout=120)
        back = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "mcp-session-id")}
        self._send(answer.status_code, answer.content, back)


@pytest.fixture
def host_page():
    """start(server_url) -> the test host's URL (its page relays /mcp to that server)."""
    servers: list[ThreadingHTTPServer] = []

    def start(server_url: str) -> str:
        from server.delivery.player import player_html

        handler = type("Host", (_Host,), {"server_url": server_url, "player": player_html()})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
