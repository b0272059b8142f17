"""Run by each framework's own python (not pytest): load the test's config, run one agent scenario, and print
its summary as the last line of stdout, failures included, so the test can tell which failure it saw."""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

PROMPT = "Make a 2 second video of a paper boat drifting down a rainy street with the demo provider."


def config() -> dict[str, Any]:
    return json.loads(Path(sys.argv[1]).read_text())


def _leaves(error: BaseException) -> list[BaseException]:
    if hasattr(error, "exceptions"):  # an ExceptionGroup (anyio task groups), also on 3.10
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def main(run: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    try:
        summary = {"ok": True, **asyncio.run(run(config()))}
    except BaseException as error:
        traceback.print_exc()
        leaves = _leaves(error)
        summary = {
            "ok": False,
            "error_type": type(leaves[0]).__name__,
            "error": " | ".join(f"{type(e).__name__}: {e}" for e in leaves),
        }
    print(json.dumps(summary, default=str))
