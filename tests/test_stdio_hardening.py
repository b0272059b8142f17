"""`python -m server` over stdio fed raw bytes: every malformed line gets a JSON-RPC error and the server
keeps serving; a line above the size limit is skipped in bounded memory. Plus the limit itself: large
enough for the most images a request may carry as data URIs."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import PYTHON, ROOT, subprocess_env

from providers.images import MAX_IMAGE_BYTES
from server.settings import SettingsError
from server.transport import DEFAULT_MAX_MESSAGE_BYTES, LARGEST_REQUEST_BYTES, max_message_bytes

ANSWER_SECONDS = 60  # generous: only a broken server waits this long


class StdioServer:
    """The real server as a child process; raw bytes in, one JSON answer per line out."""

    def __init__(self, env: dict[str, str], stderr: Path):
        self.log = open(stderr, "wb")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "server"],
            env=subprocess_env(env),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.answers.put(json.loads(line))
        self.answers.put(None)

    def send(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def request(self, message: dict[str, Any]) -> None:
        self.send(json.dumps(message).encode() + b"\n")

    def answer(self) -> dict[str, Any]:
        try:
            answer = self.answers.get(timeout=ANSWER_SECONDS)
        except queue.Empty:
            raise AssertionError("no answer from the server") from None
        assert answer is not None, "the server closed stdout (it died)"
        return answer

    def ping(self, request_id: int) -> None:
        self.request({"jsonrpc": "2.0", "id": request_id, "method": "ping"})
        assert self.answer() == {"jsonrpc": "2.0", "id": request_id, "result": {}}

    def initialize(self) -> None:
        self.request(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-bytes", "version": "1"},
                },
            }
        )
        assert self.answer()["result"]["serverInfo"]
        self.request({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def peak_memory_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))

    def close(self) -> int:
        """Close stdin (the client leaves); the server's exit code."""
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path):
    started: list[StdioServer] = []

    def start(**extra: str) -> StdioServer:
        server = StdioServer({**env, **extra}, tmp_path / f"stderr-{len(started)}.log")
        started.append(server)
        server.initialize()
        return server

    yield start
    for server in started:
        server.close()


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("id", "missing") is None and "error" in answer, answer
    return answer["error"]


DEEP = 100_000
MALFORMED = {
    "not JSON": b"hello there",
    "cut short": b'{"jsonrpc": "2.0", "id": 5, "method": "pi',
    "lone surrogate": b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"x": "\\ud800"}}',
    "lone surrogate in the method": b'{"jsonrpc": "2.0", "id": 5, "method": "\\udfff"}',
    "invalid UTF-8": b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"x": "\xff\xfe"}}',
    "deeply nested": b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"x": '
    + b"[" * DEEP
    + b"]" * DEEP
    + b"}}",
    "nested list alone": b"[" * DEEP,
}


def test_every_malformed_line_is_answered_and_the_next_request_works(serve):
    server = serve()
    for number, (name, line) in enumerate(MALFORMED.items(), start=1):
        server.send(line + b"\n")
        error = error_of(server.answer())
        assert error["code"] == -32700 and error["message"].startswith("Parse error"), (name, error)
        server.ping(number)
    # JSON that is no JSON-RPC message: Invalid Request, and still serving.
    for line in (b'{"hello": "world"}', b"[1, 2]", b"42"):
        server.send(line + b"\n")
        assert error_of(server.answer())["code"] == -32600
    server.ping(100)
    # Blank lines are no messages: skipped silently, the next answer is the ping's.
    server.send(b"\n  \r\n")
    server.ping(101)
    server.request({"jsonrpc": "2.0", "id": 102, "method": "tools/list"})
    answer = server.answer()
    assert answer["id"] == 102 and any(t["name"] == "generate_video" for t in answer["result"]["tools"])
    assert server.close() == 0, "the server did not stop cleanly when its client left"


LIMIT_MB = 1
LONG_LINE = 64 * 1024 * 1024


def test_a_line_above_the_limit_is_refused_in_bounded_memory(serve):
    server = serve(VIDEOGEN_MAX_REQUEST_MB=str(LIMIT_MB))
    server.ping(1)
    before = server.peak_memory_kib()
    # A valid ping, padded past the limit: it must be refused for its size, never parsed.
    head = b'{"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"pad": "'
    server.send(head)
    chunk = b"a" * (1024 * 1024)
    for _ in range(LONG_LINE // len(chunk)):
        server.send(chunk)
    server.send(b'"}}\n')
    error = error_of(server.answer())
    assert error["code"] == -32700 and "larger than the server's limit of 1 MB" in error["message"]
    assert "VIDEOGEN_MAX_REQUEST_MB" in error["message"]
    server.ping(3)
    grown_kib = server.peak_memory_kib() - before
    assert grown_kib < LONG_LINE // 1024 // 4, f"reading a {LONG_LINE >> 20} MB line grew the peak by {grown_kib} KiB"
    # A line just under the limit is taken.
    padding = "b" * (LIMIT_MB * 1024 * 1024 - 200)
    server.request({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": {"pad": padding}})
    assert server.answer() == {"jsonrpc": "2.0", "id": 4, "result": {}}


def test_the_limit_fits_the_largest_request_the_catalog_allows():
    from providers.registry import Providers
    from server.catalog import Catalog
    from server.transport import MAX_IMAGES_PER_REQUEST

    listing = Catalog(Providers({}), []).models()
    # An end frame goes with one start image (runblob, which takes 5 references, takes it only with exactly one).
    most = max(max(m.max_images, 2 if m.end_image else 0) for m in listing.models)
    assert most == MAX_IMAGES_PER_REQUEST, "update MAX_IMAGES_PER_REQUEST (and so the request size limit)"
    data_uri = len("data:image/jpeg;base64,") + 4 * -(-MAX_IMAGE_BYTES // 3)
    assert LARGEST_REQUEST_BYTES >= most * data_uri + 2500 * 6  # the longest prompt, every character escaped


def test_the_limit_setting():
    assert max_message_bytes({}) == DEFAULT_MAX_MESSAGE_BYTES
    assert max_message_bytes({"VIDEOGEN_MAX_REQUEST_MB": "1.5"}) == 3 * 512 * 1024
    for bad in ("lots", "0", "-3", "nan"):
        with pytest.raises(SettingsError, match="VIDEOGEN_MAX_REQUEST_MB"):
            max_message_bytes({"VIDEOGEN_MAX_REQUEST_MB": bad})
    assert DEFAULT_MAX_MESSAGE_BYTES >= LARGEST_REQUEST_BYTES > 5 * MAX_IMAGE_BYTES
