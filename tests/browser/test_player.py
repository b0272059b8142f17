"""The MCP Apps player in a real Chromium, inside a minimal host page that plays the host's part of the bridge
against the real server over streamable HTTP: it renders, shows progress that moves, and plays the MP4."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from test_transports import serving

# Long enough to see the job running between two polls of the player (it long-polls 2 s at a time).
LATENCY = "3"
PROMPT = "a red kite over the dunes <b>not bold</b>"  # markup in a prompt must show as text


def _view(page: Any) -> Any:
    """The player's frame (sandboxed, opaque origin: Playwright reaches it anyway) once it shows a job."""
    try:
        page.frame_locator("#view").locator(".vg-card:not([data-job-id=''])").wait_for(timeout=15_000)
    except Exception as error:
        raise AssertionError(f"the player never rendered a job: {page.evaluate('window.hostLog')}") from error
    return page.query_selector("#view").content_frame()


def _watch_until_done(view: Any, seconds: float = 30) -> list[float]:
    """Progress percentages the bar showed, in order, until the job was final."""
    seen: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = view.evaluate(
            "() => [document.querySelector('.vg-card').dataset.status,"
            " document.querySelector('.vg-bar').dataset.percent]"
        )
        if state[1] is not None and (not seen or seen[-1] != float(state[1])):
            seen.append(float(state[1]))
        if state[0] in ("succeeded", "failed", "cancelled"):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"the job did not finish in the player; progress seen: {seen}")


def _plays(view: Any) -> dict[str, Any]:
    """Waits for the video to have a frame, plays it muted and reports what the element says."""
    view.wait_for_function("() => document.querySelector('video').readyState >= 2", timeout=20_000)
    view.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    view.wait_for_function("() => document.querySelector('video').currentTime > 0.2", timeout=10_000)
    return view.evaluate(
        "() => { const v = document.querySelector('video');"
        " return {ready: v.readyState, time: v.currentTime, duration: v.duration, source: v.dataset.source,"
        " width: v.videoWidth, height: v.videoHeight}; }"
    )


def _open(page: Any, host: str, **query: str) -> None:
    args = {"prompt": PROMPT, "duration": 2, "resolution": "360p", "wait_seconds": 0}
    page.goto(f"{host}/?{urlencode({'args': json.dumps(args), **query})}")


@pytest.mark.parametrize("csp", ["resource", "default"])
def test_player_shows_progress_and_plays_the_video(
    env: dict[str, str], page: Any, host_page: Any, tmp_path: Path, csp: str
) -> None:
    with serving({**env, "VIDEOGEN_DEMO_LATENCY": LATENCY}, "streamable-http") as url:
        host = host_page(url)
        _open(page, host, csp=csp)
        view = _view(page)
        # The prompt is text, never markup.
        assert view.inner_text(".vg-prompt") == PROMPT
        assert view.query_selector(".vg-prompt b") is None
        assert view.inner_text(".vg-model") == "demo/demo-v1"
        seen = _watch_until_done(view)
        assert view.text_content(".vg-status") == "succeeded"
        # Progress moved: it was shown below 100 (queued or running), then rose, never fell.
        assert seen[0] < 100 and seen[-1] == 100, seen
        assert any(0 < p < 100 for p in seen) and seen == sorted(seen), seen
        video = _plays(view)
        page.screenshot(path=str(tmp_path / f"player-{csp}.png"))
        log = page.evaluate("window.hostLog")
        assert not page.errors, page.errors
        # The player polled get_status through the bridge; the host forwarded the calls to the server.
        polls = [e["job"] for e in log if e.get("forwarded") == "tools/call" and e.get("name") == "get_status"]
        assert polls and polls[-1]["status"] == "succeeded", log
        done = polls[-1]["video"]
        assert abs(video["duration"] - done["duration_seconds"]) < 0.15, (video, done)
        assert (video["width"], video["height"]) == (done["width"], done["height"])
        print(f"player ({csp} CSP) played from {video['source']}: {video}; log: {log}")
