"""The MCP Apps player (`ui://videogen/player.html`): one self-contained HTML page that shows a job live and
plays the finished video in clients that render MCP Apps.

The page is assembled from static/: the player's own markup and bridge code, plus the card CSS and JS it
shares with the local gallery (inlined, so the resource needs nothing from the network).
"""

from __future__ import annotations

import functools
from importlib.resources import files

PLAYER_URI = "ui://videogen/player.html"
SHARED = ("videogen.css", "job.js")  # inlined where a page says /*{{name}}*/


def page(name: str) -> str:
    """A page from static/ with the shared CSS and JS inlined."""
    static = files("server.delivery") / "static"
    text = (static / name).read_text(encoding="utf-8")
    for part in SHARED:
        text = text.replace(f"/*{{{{{part}}}}}*/", (static / part).read_text(encoding="utf-8"))
    return text


@functools.cache
def player_html() -> str:
    """The player's HTML (read once)."""
    return page("player.html")
