"""CPU per status GET, client layer by layer, against the fal simulator in its own process (run on demand):

    python tests/bench/bench_poll.py [--requests 6000] [--concurrency 50]

The same keep-alive GET of one job's status, sent `concurrency` at a time, by: bare aiohttp (the floor the
engine's client is measured against), httpx over the httpx-aiohttp transport (what status polls used before
providers/keepalive.py), the lean client alone, and ProviderHTTP.request (the lean client plus retries, header
merging and the error checks every poll pays). Reports this process's CPU (user + system) per request;
the simulator's CPU is not counted. Results go in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _simulators import simulators  # noqa: E402  (tests/bench, the script's own folder)

KEY = "bench-key:secret"


async def measure(name: str, get: Callable[[], Awaitable[bytes]], requests: int, concurrency: int) -> None:
    for _ in range(concurrency):  # warm up: connections open, caches filled
        await get()
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            body = await get()
            assert b"status" in body, body[:200]

    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    print(f"{name:<34} {1000 * cpu / requests:.3f} ms CPU per request ({requests / wall:.0f} requests/s)")


async def main(base: str, requests: int, concurrency: int) -> None:
    import aiohttp
    import httpx
    import httpx_aiohttp

    from providers.http import ProviderHTTP
    from providers.keepalive import KeepAliveGets

    headers = {"Authorization": f"Key {KEY}"}
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{base}/fal/fal-ai/kling-video/v2.6/pro/text-to-video",
            json={"prompt": "bench sim:seconds=36000"},
            headers=headers,
        )
        answer.raise_for_status()
        status_url = answer.json()["status_url"]
    async with aiohttp.ClientSession() as session:

        async def bare() -> bytes:
            async with session.get(status_url, headers=headers) as response:
                return await response.read()

        await measure("aiohttp, bare", bare, requests, concurrency)
    async with httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport()) as client:

        async def over_aiohttp() -> bytes:
            return (await client.get(status_url, headers=headers)).content

        await measure("httpx over httpx-aiohttp", over_aiohttp, requests, concurrency)
    lean = KeepAliveGets(connect_timeout=10, read_timeout=60, user_agent="bench")
    url = httpx.URL(status_url)
    request = httpx.Request("GET", url)

    async def lean_get() -> bytes:
        return (await lean.get(url, request, headers)).content

    await measure("lean client (providers/keepalive.py)", lean_get, requests, concurrency)
    await lean.aclose()
    http = ProviderHTTP("fal.ai", base, headers=headers, secrets=[KEY])

    async def provider_get() -> bytes:
        return (await http.request("GET", status_url)).content

    await measure("ProviderHTTP.request", provider_get, requests, concurrency)
    await http.aclose()


def run() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=50)
    opts = parser.parse_args()
    with simulators() as (url, _pid):
        asyncio.run(main(url, opts.requests, opts.concurrency))
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    run()
