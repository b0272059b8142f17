"""server.media against real files and a real HTTP server: probe, verify, thumbnails, downloads, names."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from providers.demo import frame_size, render_video
from server.media import (
    MediaError,
    finalize,
    probe,
    redact_url,
    slugify,
    thumbnail,
    verify,
    video_filename,
)

ROOT = Path(__file__).resolve().parent.parent


def render(path: Path, aspect_ratio: str = "16:9", duration: float = 1.0, seed: int = 1) -> Path:
    width, height = frame_size(aspect_ratio, "360p")
    render_video(path, prompt="a lighthouse in a storm", duration=duration, width=width, height=height, seed=seed)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("clip") / "clip.mp4")


# -- probe / verify ------------------------------------------------------------------------------


@pytest.mark.parametrize("aspect_ratio", ["16:9", "9:16", "1:1", "21:9"])
def test_probe_reports_exact_size_codec_and_duration(tmp_path: Path, aspect_ratio: str) -> None:
    path = render(tmp_path / "v.mp4", aspect_ratio, duration=1.0)
    info = probe(path)
    assert (info.width, info.height) == frame_size(aspect_ratio, "360p")
    assert info.codec == "h264"
    assert abs(info.duration_seconds - 1.0) <= 1 / 24
    assert info.size_bytes == path.stat().st_size
    assert info.frames == 24


def test_verify_decodes_every_frame(clip: Path) -> None:
    info = verify(clip)
    assert info.frames == 24
    assert info.codec == "h264"


def test_verify_rejects_a_truncated_copy(clip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    with pytest.raises(MediaError, match=r"cut\.mp4"):
        verify(cut)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.txt", b"just some text\nnot a video\n", "not a readable video"),
        ("empty.mp4", b"", "not a readable video"),
        ("garbage.mp4", bytes(range(256)) * 40, "not a readable video"),
    ],
)
def test_probe_and_verify_reject_non_videos(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    for check in (probe, verify):
        with pytest.raises(MediaError, match=reason):
            check(path)


def test_an_image_is_not_a_video(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "still.png"
    Image.new("RGB", (16, 16), "red").save(path)
    with pytest.raises(MediaError, match="not an MP4, MOV or WebM"):
        probe(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        probe(tmp_path / "nope.mp4")


# -- thumbnails ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("aspect_ratio", "size"), [("16:9", (320, 180)), ("9:16", (320, 569))])
def test_thumbnail_is_a_png_with_the_video_aspect(tmp_path: Path, aspect_ratio: str, size: tuple[int, int]) -> None:
    from PIL import Image

    video = render(tmp_path / "v.mp4", aspect_ratio, duration=1.0)
    png = tmp_path / "thumb.png"
    assert thumbnail(video, png) == png
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumb.png", "v.mp4"]  # no temp file left


def test_thumbnail_does_not_enlarge(clip: Path, tmp_path: Path) -> None:
    from PIL import Image

    with Image.open(thumbnail(clip, tmp_path / "t.png", max_width=4000)) as image:
        assert image.size == (640, 360)


def test_thumbnail_of_a_non_video_fails(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_text("no")
    with pytest.raises(MediaError):
        thumbnail(path, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# -- files and names -----------------------------------------------------------------------------


def test_finalize_replaces_atomically(clip: Path, tmp_path: Path) -> None:
    tmp, dest = tmp_path / "a.part", tmp_path / "a.mp4"
    dest.write_bytes(b"old")
    tmp.write_bytes(clip.read_bytes())
    assert finalize(tmp, dest).frames == 24
    assert same_bytes(dest, clip)
    assert not tmp.exists()


def test_video_filename() -> None:
    created = datetime(2025, 3, 4, 5, 6, 7)
    name = video_filename("job_1a2b3c4d5e6f7a8b", "A red fox, in SNOW!", created)
    assert name == "20250304-050607_a-red-fox-in-snow_job_1a2b3c4d5e6f7a8b.mp4"
    assert video_filename("abcdef012345", "日本語だけ", created) == "20250304-050607_video_abcdef012345.mp4"
    assert video_filename("a/b\\c", "Crème brûlée", created) == "20250304-050607_creme-brulee_abc.mp4"


def test_video_filename_keeps_the_whole_job_id() -> None:
    # Ids that share their first hex digits (1 in a million for 20 bits) must not share a file.
    created = datetime(2025, 3, 4, 5, 6, 7)
    assert video_filename("job_aaaaa00000000001", "x", created) != video_filename("job_aaaaa00000000002", "x", created)


def test_slug_is_short_safe_and_never_empty() -> None:
    slug = slugify("word " * 50)
    assert len(slug) <= 40
    assert not slug.endswith("-")
    assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("!!!") == slugify("") == "video"


def test_redact_url_drops_secrets() -> None:
    assert redact_url("https://user:pw@cdn.example.com:8443/v/a.mp4?X-Amz-Signature=abc#frag") == (
        "https://cdn.example.com:8443/v/a.mp4"
    )
    assert redact_url("http://example.com/a.mp4") == "http://example.com/a.mp4"
    assert redact_url("http://[::1]:8080/a.mp4?sig=1") == "http://[::1]:8080/a.mp4"


def test_importing_media_does_not_load_av_or_pillow() -> None:
    code = "import sys, server.media; print(sorted({'av', 'PIL', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- downloads -----------------------------------------------------------------------------------

FTYP = b"\x00\x00\x00\x20ftypisom"
SECRET = "token=SECRET"


class Handler(BaseHTTPRequestHandler):
    video = b""  # set by the fixture

    def do_GET(self) -> None:
        route = self.path.split("?")[0]
        try:
            if route == "/video.mp4":
                self.reply(200, self.video)
            elif route == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"/video.mp4?{SECRET}")
                self.end_headers()
            elif route == "/announced-big.mp4":
                self.send_response(200)
                self.send_header("Content-Length", str(10_000_000))
                self.end_headers()
                self.wfile.write(FTYP)
            elif route == "/unannounced-big.mp4":  # no Content-Length: the body ends when the connection closes
                self.send_response(200)
                self.end_headers()
                self.wfile.write(FTYP)
                for _ in range(50):
                    self.wfile.write(b"\0" * 10_000)
            elif route == "/page.html":
                self.reply(200, b"<html><body>Access denied</body></html>", "text/html")
            elif route == "/slow.mp4":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(FTYP)
                self.wfile.flush()
                time.sleep(3)
            else:
                self.reply(404, b"not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on purpose

    def reply(self, status: int, body: bytes, content_type: str = "video/mp4") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server(clip: Path) -> Iterator[str]:
    Handler.video = clip.read_bytes()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


async def fetch(url: str, dest: Path, max_bytes: int = 5_000_000, timeout: float = 10) -> int:
    from server.media import download

    async with httpx.AsyncClient() as client:  # the test server is on loopback
        return await download(client, url, dest, max_bytes=max_bytes, timeout=timeout, allow_private=True)


@pytest.mark.anyio
@pytest.mark.parametrize("route", ["/video.mp4", "/redirect"])
async def test_download_writes_the_whole_file_atomically(server: str, clip: Path, tmp_path: Path, route: str) -> None:
    dest = tmp_path / "out.mp4"
    written = await fetch(f"{server}{route}?{SECRET}", dest)
    assert written == len(Handler.video)
    assert same_bytes(dest, clip)
    assert names(tmp_path) == ["out.mp4"]  # the .part file was renamed away
    assert verify(dest).frames == 24


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("route", "max_bytes", "timeout", "reason"),
    [
        ("/announced-big.mp4", 100_000, 10, "over the 100,000 byte limit"),
        ("/unannounced-big.mp4", 100_000, 10, "over the 100,000 byte limit"),
        ("/page.html", 5_000_000, 10, "is not a video"),
        ("/missing.mp4", 5_000_000, 10, "HTTP 404"),
        ("/slow.mp4", 5_000_000, 0.3, "took longer than 0.3 s"),
    ],
)
async def test_download_failures_leave_nothing_and_keep_secrets(
    server: str, tmp_path: Path, route: str, max_bytes: int, timeout: float, reason: str
) -> None:
    dest = tmp_path / "out.mp4"
    with pytest.raises(MediaError, match=reason) as caught:
        await fetch(f"{server}{route}?{SECRET}#frag", dest, max_bytes=max_bytes, timeout=timeout)
    assert "SECRET" not in str(caught.value)
    assert route in str(caught.value)  # but the message does say which file
    assert names(tmp_path) == []


@pytest.mark.anyio
@pytest.mark.parametrize("url", [f"ftp://example.com/a.mp4?{SECRET}", "file:///etc/passwd", "/local/path.mp4"])
async def test_download_refuses_other_schemes(tmp_path: Path, url: str) -> None:
    with pytest.raises(MediaError, match="only http and https") as caught:
        await fetch(url, tmp_path / "out.mp4")
    assert "SECRET" not in str(caught.value)
    assert names(tmp_path) == []


@pytest.mark.anyio
async def test_download_connection_refused_is_a_media_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MediaError, match="ConnectError") as caught:
        await fetch(f"http://127.0.0.1:{port}/a.mp4?{SECRET}", tmp_path / "out.mp4")
    assert "SECRET" not in str(caught.value)
    assert names(tmp_path) == []
