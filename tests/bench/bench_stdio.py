"""Benchmarks over stdio, each against a bare MCPServer measured in the same run (run on demand):

    python tests/bench/bench_stdio.py [--runs 15] [--calls 300]

1. Cold start: spawn -> initialize -> tools/list answered. Budget: within 15 % of a bare server with one tool.
2. Tool round trip: get_status on a finished job vs a bare `echo` tool. Budget: under 2 ms extra.
Raw JSON-RPC lines over the pipes, so no client library cost is counted. Results go in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BARE = """
from mcp.server import MCPServer
mcp = MCPServer("bare")

@mcp.tool()
def echo(text: str) -> str:
    return text

mcp.run()
"""
INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}


class Peer:
    def __init__(self, argv: list[str], env: dict[str, str]):
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            text=True,
            bufsize=1,
        )
        self.next_id = 1

    def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        while True:
            reply = json.loads(self.proc.stdout.readline())
            if reply.get("id") == self.next_id:
                return reply

    def handshake(self) -> None:
        self.send(INIT)
        json.loads(self.proc.stdout.readline())
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def cold_start(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    peer = Peer(argv, env)
    peer.handshake()
    tools = peer.request("tools/list")
    elapsed = time.perf_counter() - started
    assert tools["result"]["tools"], tools
    peer.close()
    return elapsed


def round_trips(peer: Peer, tool: str, args: dict, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        reply = peer.request("tools/call", {"name": tool, "arguments": args})
        times.append(time.perf_counter() - started)
        assert not reply["result"].get("isError"), reply
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "VIDEOGEN_DATA_DIR": f"{tmp}/data",
            "VIDEOGEN_OUTPUT_DIR": f"{tmp}/out",
            "VIDEOGEN_DEMO_LATENCY": "0.2",
            "PYTHONPATH": str(ROOT),
        }
        bare = [sys.executable, "-c", BARE]
        ours = [sys.executable, "-m", "server"]
        # Alternate the two so background load hits both alike.
        bare_times, our_times = [], []
        for _ in range(opts.runs):
            bare_times.append(cold_start(bare, env))
            our_times.append(cold_start(ours, env))
        b, o = statistics.median(bare_times), statistics.median(our_times)
        print(
            f"cold start (median of {opts.runs}): bare {b * 1000:.0f} ms, videogen {o * 1000:.0f} ms, "
            f"{(o / b - 1) * 100:+.1f} %"
        )

        peer = Peer(ours, env)
        peer.handshake()
        made = peer.request(
            "tools/call",
            {"name": "generate_video", "arguments": {"prompt": "bench", "duration": 1, "resolution": "360p"}},
        )
        job_id = made["result"]["structuredContent"]["job_id"]
        echo_peer = Peer(bare, env)
        echo_peer.handshake()
        round_trips(peer, "get_status", {"job_id": job_id}, 20)  # warm up
        round_trips(echo_peer, "echo", {"text": "hi"}, 20)
        ours_rt = round_trips(peer, "get_status", {"job_id": job_id}, opts.calls)
        echo_rt = round_trips(echo_peer, "echo", {"text": "hi"}, opts.calls)
        peer.close()
        echo_peer.close()
        e, g = statistics.median(echo_rt), statistics.median(ours_rt)
        print(
            f"tool round trip (median of {opts.calls}): echo {e * 1000:.2f} ms, get_status {g * 1000:.2f} ms, "
            f"extra {(g - e) * 1000:.2f} ms"
        )


if __name__ == "__main__":
    main()
