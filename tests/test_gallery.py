"""`mcp-videogen ui`, the local gallery, as a real process over loopback: its JSON, its signed media links, and
what it refuses (foreign Host names, writes, bad links). The page itself runs in tests/browser/."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from conftest import PYTHON, ROOT, subprocess_env
from test_cli import cli

from providers.simulators.common import free_port
from server.delivery.gallery import loopback_host


def start(env: dict[str, str], *args: str, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """`python -m server ARGS` as a process, its stderr piped."""
    return subprocess.Popen(
        [PYTHON, "-m", "server", *args],
        env=subprocess_env(env),
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def gallery(env: dict[str, str]) -> Iterator[str]:
    """`python -m server ui --no-open` as a process; yields its URL once it listens."""
    port = free_port()
    process = start(env, "ui", "--port", str(port), "--no-open")
    try:
        line = process.stderr.readline()  # printed once it listens
        assert f"127.0.0.1:{port}" in line, line + process.stderr.read()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _make(env: dict[str, str], prompt: str) -> dict:
    made = cli(env, "generate", prompt, "--duration", "1", "--resolution", "360p", "--json")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def _rows(env: dict[str, str]) -> list[tuple]:
    with sqlite3.connect(Path(env["VIDEOGEN_DATA_DIR"]) / "jobs.sqlite3") as db:
        return db.execute("SELECT * FROM jobs ORDER BY job_id").fetchall()


def test_jobs_newest_first_with_signed_links_that_play(env: dict[str, str]):
    older, newer = _make(env, "older <script>x</script>"), _make(env, "newer")
    before = _rows(env)
    with gallery(env) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "{{" not in page.text and "function card(" in page.text  # the shared job.js is inlined

        jobs = httpx.get(f"{url}/api/jobs").json()["jobs"]
        assert [j["job_id"] for j in jobs] == [newer["job_id"], older["job_id"]]
        assert jobs[1]["request"]["prompt"] == "older <script>x</script>"  # data, shown as text by the page
        assert [j["job_id"] for j in httpx.get(f"{url}/api/jobs?limit=1").json()["jobs"]] == [newer["job_id"]]

        video = jobs[0]["video"]
        assert video["download_url"].startswith("/files/") and video["thumbnail_url"].startswith("/files/")
        whole = httpx.get(url + video["download_url"])
        assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
        assert whole.content == Path(newer["video"]["path"]).read_bytes()
        part = httpx.get(url + video["download_url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == whole.content[:100]
        thumb = httpx.get(url + video["thumbnail_url"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"

        # A link signed for one file opens no other, and a changed signature opens nothing.
        path, _, query = video["download_url"].partition("?")
        other = jobs[1]["video"]["download_url"].partition("?")[0]
        assert httpx.get(f"{url}{other}?{query}").status_code == 403
        assert httpx.get(f"{url}{path}?{query[:-1]}{'0' if query[-1] != '0' else '1'}").status_code == 403
    assert _rows(env) == before  # read-only: the index is as it was


def test_refuses_foreign_hosts_writes_and_bad_input(env: dict[str, str]):
    with gallery(env) as url:
        for host in ("evil.example", "127.0.0.1.evil.example", "evil.example:80"):
            refused = httpx.get(f"{url}/api/jobs", headers={"Host": host})
            assert refused.status_code == 421 and "127.0.0.1" in refused.text
        assert httpx.get(f"{url}/api/jobs", headers={"Host": "localhost"}).status_code == 200
        assert httpx.post(f"{url}/api/jobs").status_code == 405
        bad = httpx.get(f"{url}/api/jobs?limit=ten")
        assert bad.status_code == 400 and "whole number" in bad.text
        assert httpx.get(f"{url}/nothing").status_code == 404
        assert httpx.get(f"{url}/api/jobs").json() == {"jobs": []}


def test_a_taken_port_is_a_clear_error(env: dict[str, str]):
    with gallery(env) as url:
        port = url.rsplit(":", 1)[1]
        taken = cli(env, "ui", "--port", port, "--no-open", timeout=20)
    assert taken.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr


def test_loopback_host_names():
    assert all(map(loopback_host, ["127.0.0.1:8777", "localhost", "LOCALHOST:1", "[::1]:8777", "[::1]"]))
    assert not any(map(loopback_host, ["", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io:80", "[::2]"]))


def _serves(env: dict[str, str], *args: str) -> str:
    """Starts `ui ARGS`, checks the page answers, stops it; returns what it printed."""
    process = start(env, "ui", *args)
    try:
        line = process.stderr.readline()
        url = line.split(" on ", 1)[1].split()[0]
        assert httpx.get(url).status_code == 200
        return line
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_opens_the_browser_and_never_fails_without_one(env: dict[str, str], tmp_path: Path):
    opened = tmp_path / "opened.txt"
    record = f"{PYTHON} -c \"import pathlib, sys; pathlib.Path(r'{opened}').write_text(sys.argv[1])\" %s"
    line = _serves({**env, "BROWSER": record}, "--port", str(free_port()))
    for _ in range(100):
        if opened.exists() and opened.read_text():
            break
        time.sleep(0.05)
    assert opened.read_text() == line.split(" on ", 1)[1].split()[0]
    # No browser at all: the URL is printed and the page served all the same.
    assert "127.0.0.1" in _serves({**env, "BROWSER": str(tmp_path / "no-such-browser")}, "--port", str(free_port()))


def test_the_pages_are_self_contained():
    """The player (an MCP Apps resource) and the gallery fetch no script, style or font from anywhere: the
    shared card CSS/JS is inlined, and the player's own CSP allows no connection at all (the bridge is its
    only channel)."""
    import re

    from server.delivery.player import page, player_html

    for html in (player_html(), page("gallery.html")):
        assert "{{" not in html and "function card(" in html and ".vg-card {" in html
        assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", html), "external reference"
        assert "@import" not in html and "url(" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', player_html())
    assert csp, "the player carries its own CSP"
    assert "connect-src 'none'" in csp[1] and "default-src 'none'" in csp[1] and "object-src 'none'" in csp[1]
    assert "script-src 'unsafe-inline'" in csp[1]  # no script source besides the page itself
