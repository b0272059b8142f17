"""media.download and media.finalize (issue 13): only whole, decodable videos reach their final name; our own disk
failing is a LocalStorageError; redirects and private hosts are checked hop by hop; logs keep no URL secrets.

Real parts throughout: MP4s rendered with PyAV, served over loopback HTTP, written to real folders.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from providers.demo import frame_size, render_video
from server.media import LocalStorageError, MediaError, download, finalize, is_private_url, verify

SECRET = "token=SECRET"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    width, height = frame_size("16:9", "360p")
    render_video(path, prompt="a harbour at dawn", duration=1.0, width=width, height=height, seed=7)
    return path.read_bytes()


def cut(video: bytes) -> bytes:
    """The first half: the head still says MP4."""
    return video[: len(video) // 2]


def corrupt(video: bytes) -> bytes:
    """A valid ftyp box followed by garbage of the same total length."""
    ftyp_size = int.from_bytes(video[:4], "big")
    assert video[4:8] == b"ftyp"
    return video[:ftyp_size] + bytes(i * 7 % 251 for i in range(len(video) - ftyp_size))


class Handler(BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}  # route -> video bytes; set by the fixture
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        route = self.path.split("?")[0]
        Handler.hits.append(route)
        redirects = {
            "/to-video": f"/good.mp4?{SECRET}",
            "/loop": f"/loop?{SECRET}",
            "/to-file": "file:///etc/passwd",
        }
        if route in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[route])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route in self.bodies:
            body = self.bodies[route]
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(clip: bytes) -> Iterator[str]:
    Handler.bodies = {"/good.mp4": clip, "/cut.mp4": cut(clip), "/corrupt.mp4": corrupt(clip)}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def fetch(url: str, dest: Path, *, allow_private: bool = True, client: httpx.AsyncClient | None = None) -> int:
    async with client or httpx.AsyncClient() as http:
        return await download(http, url, dest, max_bytes=5_000_000, timeout=10, allow_private=allow_private)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- verify before the rename --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_good_download_is_verified_and_renamed(server: str, clip: bytes, tmp_path: Path) -> None:
    dest = tmp_path / "out.mp4"
    assert await fetch(f"{server}/good.mp4?{SECRET}", dest) == len(clip)
    assert dest.read_bytes() == clip
    assert names(tmp_path) == ["out.mp4"]
    assert verify(dest).frames == 24


@pytest.mark.anyio
@pytest.mark.parametrize(("route", "reason"), [("/cut.mp4", "truncated|damaged"), ("/corrupt.mp4", "not a readable")])
async def test_a_cut_or_corrupt_download_fails_and_leaves_nothing(
    server: str, tmp_path: Path, route: str, reason: str
) -> None:
    with pytest.raises(MediaError, match=reason) as caught:
        await fetch(f"{server}{route}?{SECRET}", tmp_path / "out.mp4")
    message = str(caught.value)
    assert f"{route} is not a usable video" in message
    assert "SECRET" not in message
    assert not isinstance(caught.value, LocalStorageError)  # the engine retries it with a fresh URL
    assert names(tmp_path) == []  # neither the final name nor the .part


@pytest.mark.anyio
async def test_a_bad_download_never_replaces_a_good_file(server: str, clip: bytes, tmp_path: Path) -> None:
    dest = tmp_path / "out.mp4"
    dest.write_bytes(clip)
    with pytest.raises(MediaError):
        await fetch(f"{server}/cut.mp4", dest)
    assert dest.read_bytes() == clip
    assert names(tmp_path) == ["out.mp4"]


@pytest.mark.parametrize("make_bad", [cut, corrupt])
def test_finalize_refuses_a_bad_file_and_removes_it(clip: bytes, tmp_path: Path, make_bad) -> None:
    part, dest = tmp_path / "v.mp4.part", tmp_path / "v.mp4"
    part.write_bytes(make_bad(clip))
    with pytest.raises(MediaError, match=r"v\.mp4\.part"):
        finalize(part, dest)
    assert names(tmp_path) == []


# -- the output folder ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_download_recreates_a_deleted_output_folder(server: str, clip: bytes, tmp_path: Path) -> None:
    folder = tmp_path / "videos"  # as if deleted by the user after the server started
    dest = folder / "out.mp4"
    assert await fetch(f"{server}/good.mp4", dest) == len(clip)
    assert names(folder) == ["out.mp4"]


def test_finalize_recreates_a_deleted_output_folder(clip: bytes, tmp_path: Path) -> None:
    part = tmp_path / "v.part"
    part.write_bytes(clip)
    dest = tmp_path / "gone" / "deeper" / "v.mp4"
    finalize(part, dest)
    assert dest.read_bytes() == clip
    assert not part.exists()


@pytest.mark.anyio
async def test_a_full_disk_is_a_local_storage_error(server: str, tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    # Writes to /dev/full fail with ENOSPC: a real full disk under the .part name.
    (tmp_path / "out.mp4.part").symlink_to("/dev/full")
    with pytest.raises(LocalStorageError) as caught:
        await fetch(f"{server}/good.mp4?{SECRET}", tmp_path / "out.mp4")
    message = str(caught.value)
    assert errno.errorcode[errno.ENOSPC] in message
    assert f"Free space in {tmp_path}" in message
    assert "VIDEOGEN_OUTPUT_DIR" in message
    assert "SECRET" not in message
    assert names(tmp_path) == []  # the .part (here the link) is removed; /dev/full is untouched
    assert os.path.exists("/dev/full")


@pytest.mark.anyio
async def test_an_unusable_output_folder_is_a_local_storage_error(server: str, tmp_path: Path) -> None:
    (tmp_path / "videos").write_text("a file where the folder should be")
    with pytest.raises(LocalStorageError, match=r"videos.*VIDEOGEN_OUTPUT_DIR"):
        await fetch(f"{server}/good.mp4", tmp_path / "videos" / "out.mp4")
    assert names(tmp_path) == ["videos"]


# -- where downloads may go ----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "reason"),
    [("127.0.0.1", "127.0.0.1 is a loopback address"), ("localhost", r"localhost resolves to .*loopback")],
)
async def test_loopback_is_refused_unless_allowed(server: str, tmp_path: Path, host: str, reason: str) -> None:
    url = server.replace("127.0.0.1", host) + f"/good.mp4?{SECRET}"
    before = len(Handler.hits)
    with pytest.raises(MediaError, match=reason) as caught:
        await fetch(url, tmp_path / "out.mp4", allow_private=False)
    assert "SECRET" not in str(caught.value)
    assert len(Handler.hits) == before  # refused before sending anything
    assert names(tmp_path) == []


@pytest.mark.anyio
async def test_a_redirect_to_a_private_host_is_refused(clip: bytes, tmp_path: Path) -> None:
    async def app(scope, receive, send) -> None:  # ASGI: stands for a public CDN, in process, no socket
        if scope["path"] == "/start":
            status, headers, body = 302, [(b"location", f"http://127.0.0.1:9/good.mp4?{SECRET}".encode())], b""
        else:
            status, headers, body = 200, [(b"content-type", b"video/mp4")], clip
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    with pytest.raises(MediaError, match=r"127\.0\.0\.1:9/good\.mp4: 127\.0\.0\.1 is a loopback") as caught:
        await fetch("http://8.8.8.8/start", tmp_path / "out.mp4", allow_private=False, client=client)
    assert "SECRET" not in str(caught.value)
    assert names(tmp_path) == []


@pytest.mark.anyio
@pytest.mark.parametrize(("route", "reason"), [("/loop", "more than 5 redirects"), ("/to-file", "only http and https")])
async def test_redirects_are_bounded_and_http_only(server: str, tmp_path: Path, route: str, reason: str) -> None:
    with pytest.raises(MediaError, match=reason) as caught:
        await fetch(f"{server}{route}?{SECRET}", tmp_path / "out.mp4")
    assert "SECRET" not in str(caught.value)
    assert names(tmp_path) == []


@pytest.mark.anyio
async def test_a_redirect_is_followed(server: str, clip: bytes, tmp_path: Path) -> None:
    dest = tmp_path / "out.mp4"
    assert await fetch(f"{server}/to-video", dest) == len(clip)
    assert dest.read_bytes() == clip


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:8000", True),
        ("http://[::1]:8000", True),
        ("http://10.1.2.3", True),  # only classified, never contacted
        ("http://169.254.169.254/latest", True),
        ("http://[::ffff:127.0.0.1]/", True),
        ("https://8.8.8.8/v1", False),
        ("", False),
    ],
)
async def test_is_private_url(url: str, local: bool) -> None:
    assert await is_private_url(url) is local


# -- logs ----------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_debug_logs_carry_no_url_secrets(server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await fetch(f"{server}/to-video?{SECRET}", tmp_path / "out.mp4")
    assert "/good.mp4" in caplog.text  # httpx did log the requests...
    assert "SECRET" not in caplog.text  # ...without their signed query
