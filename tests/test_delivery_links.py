"""Signed download links (server/delivery/links.py) and the /files/ route (server/delivery/files.py), served by
uvicorn on 127.0.0.1 and fetched with httpx: signatures, expiry, Range, HEAD, and paths that are not ours."""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from providers.demo import render_video
from providers.simulators.common import running
from server.delivery.files import FORBIDDEN, byte_range, files_app
from server.delivery.links import KEY_BYTES, KEY_FILE, LinkKeyError, LinkSigner, load_or_create_key

BASE = "https://videogen.example.com"


@pytest.fixture
def signer(tmp_path: Path) -> LinkSigner:
    return LinkSigner.from_data_dir(tmp_path / "data", ttl=600)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "videos"
    folder.mkdir()
    render_video(folder / "clip.mp4", prompt="links", duration=1, width=160, height=96, seed=3, fps=12)
    (folder / "clip.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return folder


def _query(url: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in urlsplit(url).query.split("&"))


def _path_url(base: str, signer: LinkSigner, relpath: str, exp: int | None = None) -> str:
    """A link to `relpath` signed as the signer would (or with a chosen expiry), its path sent as is."""
    exp = signer.expiry() if exp is None else exp
    return f"{base}/files/{quote(relpath, safe='/')}?exp={exp}&sig={signer.signature(relpath, exp)}"


# -- the key and the signer -----------------------------------------------------------------------------


def test_the_key_is_made_once_0600_and_kept(tmp_path: Path):
    data = tmp_path / "fresh" / "data"
    first = LinkSigner.from_data_dir(data, ttl=60)
    key_file = data / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == KEY_BYTES
    second = LinkSigner.from_data_dir(data, ttl=60)
    url = first.url("a.mp4", BASE)
    q = _query(url)
    assert second.verify("a.mp4", q["exp"], q["sig"])  # the same key after a restart: old links still work
    assert not [p for p in data.iterdir() if p.name != KEY_FILE]  # no temp file left behind
    assert key_file.read_bytes().hex() not in repr(first) and "key" not in repr(first).lower().replace("linksigner", "")


def test_a_key_file_readable_by_others_is_made_private_and_a_bad_one_refused(tmp_path: Path):
    path = tmp_path / KEY_FILE
    path.write_bytes(os.urandom(KEY_BYTES))
    path.chmod(0o644)
    load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_bytes(b"short")
    with pytest.raises(LinkKeyError, match="delete it"):
        load_or_create_key(path)


def test_url_shape_and_verify(signer: LinkSigner):
    url = signer.url("20261203-081500_a fox é_job_1.mp4", BASE + "/")
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "videogen.example.com"
    assert parts.path == "/files/20261203-081500_a%20fox%20%C3%A9_job_1.mp4"
    q = _query(url)
    assert set(q) == {"exp", "sig"} and len(q["sig"]) == 64
    assert abs(int(q["exp"]) - (time.time() + 600)) < 5
    assert signer.verify("20261203-081500_a fox é_job_1.mp4", q["exp"], q["sig"])
    # Another path, another expiry, another key, a changed or malformed signature: all refused.
    assert not signer.verify("other.mp4", q["exp"], q["sig"])
    assert not signer.verify("20261203-081500_a fox é_job_1.mp4", str(int(q["exp"]) + 1), q["sig"])
    other = LinkSigner(os.urandom(32), ttl=600)
    assert not other.verify("20261203-081500_a fox é_job_1.mp4", q["exp"], q["sig"])
    flipped = q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")
    for exp, sig in ((q["exp"], flipped), (q["exp"], ""), (q["exp"], "é" * 64), ("-1", q["sig"]), ("1e9", q["sig"])):
        assert not signer.verify("20261203-081500_a fox é_job_1.mp4", exp, sig)


def test_expiry(signer: LinkSigner):
    url = signer.url("a.mp4", BASE, ttl=30)
    q = _query(url)
    exp = int(q["exp"])
    assert signer.verify("a.mp4", q["exp"], q["sig"], now=exp - 1)
    assert not signer.verify("a.mp4", q["exp"], q["sig"], now=exp)
    assert not signer.verify("a.mp4", q["exp"], q["sig"], now=exp + 3600)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=95-500", (95, 99)),
        ("bytes=100-", "unsatisfiable"),
        ("bytes=-0", "unsatisfiable"),
        ("bytes=9-3", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("", None),
    ],
)
def test_byte_range(header: str, expected):
    assert byte_range(header, 100) == expected


# -- the route over loopback ----------------------------------------------------------------------------


def test_download_streams_the_video_and_it_decodes(output: Path, signer: LinkSigner, tmp_path: Path):
    import av

    with running(files_app(output, signer)) as base:
        response = httpx.get(signer.url("clip.mp4", base))
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp4"
        assert response.headers["accept-ranges"] == "bytes"
        assert int(response.headers["content-length"]) == (output / "clip.mp4").stat().st_size
        assert response.content == (output / "clip.mp4").read_bytes()
        saved = tmp_path / "downloaded.mp4"
        saved.write_bytes(response.content)
        with av.open(str(saved)) as container:
            assert sum(1 for _ in container.decode(video=0)) >= 10
        png = httpx.get(signer.url("clip.png", base))
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == (output / "clip.png").read_bytes()


def test_range_requests_get_206_with_the_exact_bytes_and_416_when_unsatisfiable(output: Path, signer: LinkSigner):
    data = (output / "clip.mp4").read_bytes()
    size = len(data)
    with running(files_app(output, signer)) as base:
        url = signer.url("clip.mp4", base)
        for header, start, end in (
            ("bytes=0-99", 0, 99),
            ("bytes=1000-", 1000, size - 1),
            ("bytes=-256", size - 256, size - 1),
            (f"bytes=10-{size * 2}", 10, size - 1),
        ):
            part = httpx.get(url, headers={"Range": header})
            assert part.status_code == 206, header
            assert part.content == data[start : end + 1]
            assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
            assert int(part.headers["content-length"]) == end - start + 1
        for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
            refused = httpx.get(url, headers={"Range": header})
            assert refused.status_code == 416, header
            assert refused.headers["content-range"] == f"bytes */{size}"
        # Several ranges at once: the whole file (a server may ignore Range).
        whole = httpx.get(url, headers={"Range": "bytes=0-1,4-5"})
        assert whole.status_code == 200 and whole.content == data


def test_head_answers_the_headers_without_a_body(output: Path, signer: LinkSigner):
    size = (output / "clip.mp4").stat().st_size
    with running(files_app(output, signer)) as base:
        url = signer.url("clip.mp4", base)
        head = httpx.head(url)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == size and head.headers["content-type"] == "video/mp4"
        part = httpx.head(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.headers["content-length"] == "10" and part.content == b""
        assert httpx.post(url).status_code == 405


def test_a_bad_or_expired_signature_gets_the_same_403(output: Path, signer: LinkSigner):
    render_video(output / "other.mp4", prompt="another job", duration=1, width=64, height=64, seed=4, fps=12)
    with running(files_app(output, signer)) as base:
        good = signer.url("clip.mp4", base)
        q = _query(good)
        flipped = q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")
        other = _query(signer.url("other.mp4", base))
        past = int(time.time()) - 5
        refused = {
            "tampered": f"{base}/files/clip.mp4?exp={q['exp']}&sig={flipped}",
            "expired": _path_url(base, signer, "clip.mp4", exp=past),
            "longer expiry": f"{base}/files/clip.mp4?exp={int(q['exp']) + 86400}&sig={q['sig']}",
            "another job's signature": f"{base}/files/clip.mp4?exp={other['exp']}&sig={other['sig']}",
            "no signature": f"{base}/files/clip.mp4",
            "two signatures": f"{good}&sig={q['sig']}",
            "unsigned missing file": f"{base}/files/nothing.mp4?exp={q['exp']}&sig={q['sig']}",
            "unsigned escape": f"{base}/files/..%2f..%2fetc%2fpasswd?exp={q['exp']}&sig={q['sig']}",
        }
        bodies = set()
        for why, url in refused.items():
            response = httpx.get(url)
            assert response.status_code == 403, why
            bodies.add((response.content, response.headers["content-length"], response.headers["content-type"]))
        assert bodies == {(FORBIDDEN, str(len(FORBIDDEN)), "text/plain; charset=utf-8")}
        assert httpx.get(good).status_code == 200


def _raw_get(base: str, target: str) -> tuple[int, bytes]:
    """GET `target` exactly as written (httpx would normalise `..` away); the status and body."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_paths_that_are_not_ours_get_404_even_when_signed(output: Path, signer: LinkSigner, tmp_path: Path):
    """A valid signature on a bad path (as if a link were made wrongly) still reads nothing outside the folder."""
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"SECRET-BYTES" * 100)
    (output / "escape.mp4").symlink_to(secret)
    (output / "inside.mp4").symlink_to(output / "clip.mp4")  # a link within the folder is fine
    (output / "sub").mkdir()
    (output / "notes.txt").write_text("not media")
    with running(files_app(output, signer)) as base:
        for relpath in (
            "../secret.mp4",
            "sub/../../secret.mp4",
            str(secret),  # absolute: /tmp/.../secret.mp4 -> '/files//tmp/...'
            str(secret).lstrip("/"),  # taken as relative to the folder: not there
            "escape.mp4",  # a symlink out of the folder
            "./clip.mp4",
            "sub",
            "sub/",
            "notes.txt",
            "missing.mp4",
            "clip.mp4\x00.png",
        ):
            exp = signer.expiry()
            target = f"/files/{quote(relpath, safe='/')}?exp={exp}&sig={signer.signature(relpath, exp)}"
            status, body = _raw_get(base, target)
            assert status == 404, relpath
            assert b"SECRET" not in body
            # Dot segments sent literally, not percent-encoded, reach the app decoded the same way.
            literal = f"/files/{relpath}?exp={exp}&sig={signer.signature(relpath, exp)}"
            if "\x00" not in relpath:
                status, body = _raw_get(base, literal)
                assert status in (404, 400), relpath
                assert b"SECRET" not in body
        inside = httpx.get(signer.url("inside.mp4", base))
        assert inside.status_code == 200 and inside.content == (output / "clip.mp4").read_bytes()


def test_streaming_memory_stays_flat_for_a_large_file(tmp_path: Path, signer: LinkSigner):
    """A 50 MB sparse file is sent whole while the process (server and client) never holds much of it."""
    import tracemalloc

    folder = tmp_path / "big"
    folder.mkdir()
    size = 50 * 1024 * 1024
    with open(folder / "big.mp4", "wb") as out:
        out.truncate(size)
    peaks: list[int] = []
    with running(files_app(folder, signer)) as base:
        tracemalloc.start()
        try:
            received = 0
            with httpx.stream("GET", signer.url("big.mp4", base)) as response:
                assert response.status_code == 200
                for chunk in response.iter_raw(1024 * 1024):
                    received += len(chunk)
                    # The client's own chunk is counted too; traced objects are dropped as we go.
                    del chunk
                    peaks.append(tracemalloc.get_traced_memory()[1])
            assert received == size
        finally:
            tracemalloc.stop()
    # Buffering the file anywhere in the process shows as a peak of 50 MB or more (measured: about 150 MB
    # with one 64 MB chunk; about 10 MB, mostly the HTTP stack's own buffers and imports, when streamed).
    assert max(peaks) < size / 2, max(peaks)


# -- a job with links (server/present.py) ------------------------------------------------------------------


def _job(video: Path, status: str = "succeeded"):
    from server.models import Job

    return Job.model_validate(
        {
            "job_id": "job_1",
            "status": status,
            "provider": "demo",
            "model": "demo-v1",
            "request": {
                "provider": "demo",
                "model": "demo-v1",
                "mode": "text_to_video",
                "prompt": "links",
                "duration": 1,
                "aspect_ratio": "16:9",
                "resolution": "360p",
            },
            "created_at": "2026-12-03T08:00:00Z",
            "updated_at": "2026-12-03T08:00:01Z",
            "video": {
                "path": str(video),
                "thumbnail_path": str(video.with_suffix(".png")),
                "duration_seconds": 1,
                "width": 160,
                "height": 96,
                "size_bytes": video.stat().st_size if video.exists() else 0,
            },
            "next_step": "Done: the video is at video.path (thumbnail at video.thumbnail_path).",
        }
    )


def test_with_links_only_for_a_succeeded_job_whose_file_is_ours(output: Path, signer: LinkSigner, tmp_path: Path):
    from server.delivery.links import Links
    from server.present import summary, with_links

    links = Links(signer, output, None)
    job = with_links(_job(output / "clip.mp4"), links, BASE)
    assert job.video.download_url.startswith(f"{BASE}/files/clip.mp4?exp=")
    assert job.video.thumbnail_url.startswith(f"{BASE}/files/clip.png?exp=")
    assert "video.download_url" in job.next_step and "10 min" in job.next_step  # the signer's 600 s
    assert job.video.download_url in summary(job) and str(output / "clip.mp4") not in summary(job)
    q = _query(job.video.download_url)
    assert signer.verify("clip.mp4", q["exp"], q["sig"])

    (output / "clip.png").unlink()
    assert with_links(_job(output / "clip.mp4"), links, BASE).video.thumbnail_url is None
    for unlinked in (
        _job(output / "clip.mp4", status="running"),
        _job(output / "gone.mp4"),  # the file was deleted
        _job(tmp_path / "elsewhere.mp4"),  # not inside the output folder
    ):
        (tmp_path / "elsewhere.mp4").write_bytes(b"x")
        shown = with_links(unlinked, links, BASE)
        assert shown.video.download_url is None and shown == unlinked
