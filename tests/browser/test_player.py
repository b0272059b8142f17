"""The MCP Apps player in a real Chromium, inside a minimal host page (host.html) that plays the host's part of
the bridge against the real server over streamable HTTP: it renders, shows progress that moves, and plays
the MP4, from the signed link where the host's CSP allows the server's origin, else through resources/read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from test_transports import serving

# Long enough to see the job running between two polls of the player (it long-polls 2 s at a time).
LATENCY = "4"
PROMPT = "a red kite over the dunes <b>not bold</b>"  # markup in a prompt must show as text
FINAL = ("succeeded", "failed", "cancelled")


def _open(page: Any, host: str, tool: str = "generate_video", args: dict | None = None, **query: str) -> None:
    args = args if args is not None else {"prompt": PROMPT, "duration": 2, "resolution": "360p", "wait_seconds": 0}
    page.goto(f"{host}/?{urlencode({'tool': tool, 'args': json.dumps(args), **query})}")


def _view(page: Any, selector: str = ".vg-card:not([data-job-id=''])") -> Any:
    """The player's frame (sandboxed, opaque origin: Playwright reaches it anyway) once `selector` shows."""
    try:
        page.frame_locator("#view").locator(selector).wait_for(timeout=15_000)
    except Exception as error:
        raise AssertionError(f"the player never showed {selector}: {page.evaluate('window.hostLog')}") from error
    return page.query_selector("#view").content_frame()


def _watch_until_done(view: Any, shot: Path | None = None, seconds: float = 30) -> list[float]:
    """Progress percentages the bar showed, in order, until the job was final; a screenshot to `shot` when it
    first shows the job part way."""
    seen: list[float] = []
    deadline = seconds * 10
    for _ in range(int(deadline)):
        status, percent = view.evaluate(
            "() => [document.querySelector('.vg-card').dataset.status,"
            " document.querySelector('.vg-bar').dataset.percent]"
        )
        if percent is not None and (not seen or seen[-1] != float(percent)):
            seen.append(float(percent))
            if shot and 5 < seen[-1] < 100 and not shot.exists():
                view.page.screenshot(path=str(shot))
        if status in FINAL:
            return seen
        view.wait_for_timeout(100)
    raise AssertionError(f"the job did not finish in the player; progress seen: {seen}")


def _plays(view: Any) -> dict[str, Any]:
    """Waits for the video to have a frame, plays it muted, and reports what the element says."""
    view.wait_for_function("() => document.querySelector('video').readyState >= 2", timeout=20_000)
    view.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    view.wait_for_function("() => document.querySelector('video').currentTime > 0.2", timeout=10_000)
    return view.evaluate(
        "() => { const v = document.querySelector('video');"
        " return {ready: v.readyState, time: v.currentTime, duration: v.duration, source: v.dataset.source,"
        " width: v.videoWidth, height: v.videoHeight}; }"
    )


def _log(page: Any) -> list[dict]:
    return page.evaluate("window.hostLog")


# "resource": the host builds its CSP from the resource's _meta.ui.csp (the server's origin for media), so the
# signed link plays. "default": the spec's restrictive default (media-src 'self' data:): no link, no Blob
# URL; the player reads videogen://jobs/{id}/video through the bridge and plays it as a data: URL.
@pytest.mark.parametrize(("csp", "source"), [("resource", "link"), ("default", "resource-data")])
def test_player_shows_progress_and_plays_the_video(
    env: dict[str, str], page: Any, host_page: Any, tmp_path: Path, csp: str, source: str
) -> None:
    with serving({**env, "VIDEOGEN_DEMO_LATENCY": LATENCY}, "streamable-http") as url:
        _open(page, host_page(url), csp=csp)
        view = _view(page)
        log = _log(page)
        assert {"resourceUri": "ui://videogen/player.html"} in log  # generate_video names the player
        assert {"resourceMime": "text/html;profile=mcp-app"}.items() <= next(
            e for e in log if "resourceMime" in e
        ).items()
        assert view.inner_text(".vg-prompt") == PROMPT and view.query_selector(".vg-prompt b") is None
        assert view.inner_text(".vg-model") == "demo/demo-v1"
        # The host's theme (hostContext.styles.variables) is the page's.
        assert view.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(17, 17, 19)"
        seen = _watch_until_done(view, tmp_path / f"player-{csp}-running.png")
        assert view.text_content(".vg-status") == "succeeded"
        # Progress moved: shown below 100 (pending or running), then in between, then 100; it never fell.
        assert seen[0] < 100 and seen[-1] == 100 and any(0 < p < 100 for p in seen) and seen == sorted(seen), seen
        video = _plays(view)
        page.screenshot(path=str(tmp_path / f"player-{csp}.png"))
        log = _log(page)
        assert not page.errors, page.errors
        # The player polled get_status through the bridge (the host forwarded each call to the server).
        polls = [e["job"] for e in log if e.get("forwarded") == "tools/call" and e.get("name") == "get_status"]
        assert polls and polls[-1]["status"] == "succeeded", log
        done = polls[-1]["video"]
        assert video["source"] == source, (video, log)
        assert video["ready"] >= 2 and video["time"] > 0.2
        assert abs(video["duration"] - done["duration_seconds"]) < 0.15, (video, done)
        assert (video["width"], video["height"]) == (done["width"], done["height"])
        reads = [e["name"] for e in log if e.get("forwarded") == "resources/read"]
        assert reads == ([] if source == "link" else [f"videogen://jobs/{polls[-1]['job_id']}/video"])


def test_player_stops_at_a_cancelled_job(env: dict[str, str], page: Any, host_page: Any) -> None:
    with serving({**env, "VIDEOGEN_DEMO_LATENCY": "60"}, "streamable-http") as url:
        _open(page, host_page(url))
        view = _view(page)
        job_id = view.get_attribute(".vg-card", "data-job-id")
        assert page.evaluate("(id) => window.hostCall('cancel_job', {job_id: id})", job_id)["structuredContent"]
        view.wait_for_function(
            "() => document.querySelector('.vg-card').dataset.status === 'cancelled'", timeout=15_000
        )
        assert view.get_attribute(".vg-bar", "data-percent") == "100.0"
        assert view.is_hidden("video") and view.get_attribute("video", "src") is None
        polls = sum(e.get("forwarded") == "tools/call" for e in _log(page))
        view.wait_for_timeout(2500)  # no more polling once the job is final
        assert sum(e.get("forwarded") == "tools/call" for e in _log(page)) == polls
        assert not page.errors, page.errors


def test_player_shows_a_failed_call_as_its_message(env: dict[str, str], page: Any, host_page: Any) -> None:
    with serving(env, "streamable-http") as url:
        _open(page, host_page(url), tool="get_status", args={"job_id": "job_0000000000000000"})
        view = _view(page, ".vg-error:not([hidden])")
        assert "job_0000000000000000" in view.inner_text(".vg-error")
        assert view.text_content(".vg-status") == "error" and view.is_hidden(".vg-bar")
        assert not page.errors, page.errors


def test_player_opened_without_a_host_says_what_it_is(page: Any, host_page: Any) -> None:
    page.goto(host_page("http://127.0.0.1:9") + "/player.html")
    assert "MCP Apps view" in page.inner_text("#about")
    assert not page.errors, page.errors


def test_player_plays_a_job_the_tool_call_already_finished(env: dict[str, str], page: Any, host_page: Any) -> None:
    args = {"prompt": "done before the view asks", "duration": 1, "resolution": "360p", "wait_seconds": 20}
    with serving(env, "streamable-http") as url:
        _open(page, host_page(url), args=args)
        view = _view(page, ".vg-card[data-status='succeeded']")
        video = _plays(view)
        assert video["source"] == "link" and abs(video["duration"] - 1) < 0.15, video
        assert not any(e.get("forwarded") == "tools/call" for e in _log(page))  # nothing left to poll
        # The host switches to a light theme: the view follows (ui/notifications/host-context-changed).
        page.evaluate(
            "() => window.hostNotify('ui/notifications/host-context-changed', {theme: 'light',"
            " styles: {variables: {'--color-background-primary': '#fafafa'}}})"
        )
        view.wait_for_function("() => getComputedStyle(document.body).backgroundColor === 'rgb(250, 250, 250)'")
        assert view.evaluate("document.documentElement.dataset.theme") == "light"
        # The download goes through the host (ui/open-link): a sandboxed view cannot open a window.
        view.click(".vg-download")
        page.wait_for_function("() => window.hostLog.some((e) => e.openLink)")
        opened = next(e["openLink"] for e in _log(page) if "openLink" in e)
        assert opened == view.get_attribute("video", "src") and "/files/" in opened and "sig=" in opened
        assert not page.errors, page.errors


def test_player_keeps_polling_after_a_failed_refresh(env: dict[str, str], page: Any, host_page: Any) -> None:
    with serving({**env, "VIDEOGEN_DEMO_LATENCY": "3"}, "streamable-http") as url:
        _open(page, host_page(url), fail="1")
        view = _view(page)
        view.wait_for_function(
            "() => document.querySelector('.vg-message').textContent.includes('the server broke')", timeout=10_000
        )
        assert "trying again" in view.inner_text(".vg-message")
        view.wait_for_function(
            "() => document.querySelector('.vg-card').dataset.status === 'succeeded'", timeout=20_000
        )
        assert "the server broke" not in view.inner_text(".vg-message")  # the next refresh cleared it
        assert {"failed": "get_status"} in _log(page)
        assert not page.errors, page.errors
