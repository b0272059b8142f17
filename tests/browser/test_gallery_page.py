"""The local gallery (`mcp-videogen ui`) in a real Chromium: a finished job with its thumbnail plays, and a
job made while the page is open appears and finishes there without a reload."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from test_cli import cli
from test_gallery import gallery, start


def _card(page: Any, job_id: str) -> Any:
    return page.locator(f".vg-card[data-job-id='{job_id}']")


def test_gallery_lists_a_finished_job_with_its_thumbnail_and_plays_it(
    env: dict[str, str], page: Any, tmp_path: Path
) -> None:
    made = cli(env, "generate", "a lighthouse at dusk", "--duration", "2", "--resolution", "360p", "--json")
    assert made.returncode == 0, made.stderr
    job = json.loads(made.stdout)
    with gallery(env) as url:
        page.goto(url)
        card = _card(page, job["job_id"])
        card.wait_for(timeout=10_000)
        assert card.locator(".vg-status").text_content() == "succeeded"
        assert card.locator(".vg-prompt").text_content() == "a lighthouse at dusk"
        assert card.locator(".vg-bar").get_attribute("data-percent") == "100.0"
        # The thumbnail is the video's poster, fetched through its signed link.
        poster = card.locator("video").get_attribute("poster")
        assert poster and poster.startswith("/files/") and "sig=" in poster
        fetched = page.evaluate(
            "async (u) => { const r = await fetch(u); return [r.status, r.headers.get('content-type')]; }", poster
        )
        assert fetched == [200, "image/png"], fetched
        video = card.locator("video")
        video.evaluate("(v) => new Promise((ok) => v.readyState >= 2 ? ok() : v.addEventListener('loadeddata', ok))")
        video.evaluate("(v) => { v.muted = true; return v.play(); }")
        page.wait_for_function(
            "(id) => document.querySelector(`.vg-card[data-job-id='${id}'] video`).currentTime > 0.2", arg=job["job_id"]
        )
        state = video.evaluate("(v) => ({ready: v.readyState, duration: v.duration, width: v.videoWidth})")
        assert state["ready"] >= 2 and abs(state["duration"] - job["video"]["duration_seconds"]) < 0.15, state
        assert state["width"] == job["video"]["width"]
        assert card.locator("a.vg-download").get_attribute("href") == video.get_attribute("src")
        page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
        assert not page.errors, page.errors


def test_a_new_job_appears_first_and_finishes_live(env: dict[str, str], page: Any) -> None:
    first = json.loads(
        cli(env, "generate", "the first one", "--duration", "1", "--resolution", "360p", "--json").stdout
    )
    with gallery(env) as url:
        page.goto(url)
        _card(page, first["job_id"]).wait_for(timeout=10_000)
        slow = {**env, "VIDEOGEN_DEMO_LATENCY": "3"}
        made = ("generate", "made while watching", "--duration", "1", "--resolution", "360p", "--json")
        started = start(slow, *made, stdout=subprocess.PIPE)
        try:
            # It shows up before it is done, above the older job, with no reload of the page.
            page.wait_for_function(
                "() => { const c = document.querySelector('.vg-card');"
                " return c && c.querySelector('.vg-prompt').textContent === 'made while watching'"
                " && !['succeeded', 'failed'].includes(c.dataset.status); }",
                timeout=10_000,
            )
            page.wait_for_function(
                "() => document.querySelector('.vg-card').dataset.status === 'succeeded'", timeout=20_000
            )
        finally:
            out, _ = started.communicate(timeout=30)
        second = json.loads(out)
        ids = page.eval_on_selector_all(".vg-card", "(cards) => cards.map((c) => c.dataset.jobId)")
        assert ids == [second["job_id"], first["job_id"]]
        assert not page.errors, page.errors
        # Its video got its link once finished, and loads.
        page.wait_for_function("() => document.querySelector('.vg-card video').readyState >= 1", timeout=10_000)
