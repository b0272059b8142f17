"""One engine process watching many concurrent jobs across the five provider simulators (run on demand):

    python tests/bench/bench_jobs.py [--jobs 200] [--speed 20]
    python tests/bench/bench_jobs.py --jobs 1000 --watch 60     # steady-state cost of watching long jobs
    python tests/bench/bench_jobs.py --jobs 10000 --watch 60    # 10,000 at once: CPU, memory, no errors
    python tests/bench/bench_jobs.py --jobs 1000 --watch 60 --uvloop  # the engine on uvloop's event loop

The simulators run in their own process (`mcp-videogen simulate`), so the CPU counted is the engine's.
Simulated time runs `speed` times faster and the engine's polling is scaled by the same factor, so each
provider's real cadence is exercised. For every provider it reports status requests per job against the
minimum that provider's cadence needs for the job's simulated duration (polls until the finish is seen),
how late completion was noticed, and the engine's CPU use. Results go in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from _simulators import simulators  # noqa: E402  (tests/bench, the script's own folder)

from providers.registry import Providers  # noqa: E402
from providers.simulators import SIMULATORS, sample_env  # noqa: E402
from server.catalog import RequestArgs  # noqa: E402
from server.jobs import JobManager  # noqa: E402
from server.settings import Settings  # noqa: E402


def minimum_polls(provider, spec, queue: float, run: float) -> int:
    """Status requests a provider's own cadence needs to see a job of this (simulated) length finish."""
    elapsed, polls = 0.0, 0
    random.seed(0)
    while True:
        polls += 1
        if elapsed >= queue + run:
            return polls
        elapsed += provider.poll_interval(spec, elapsed)


async def run(jobs: int, speed: float, simulate_url: str, tmp: str) -> None:
    env = {
        **os.environ,
        **sample_env(simulate_url),
        "VIDEOGEN_DATA_DIR": f"{tmp}/data",
        "VIDEOGEN_OUTPUT_DIR": f"{tmp}/out",
        "VIDEOGEN_POLL_SCALE": str(1 / speed),
        "VIDEOGEN_LEASE_SECONDS": "60",
    }
    settings = Settings.from_env(env)
    providers = Providers(env)
    plan = []
    rng = random.Random(1)
    names = list(SIMULATORS)
    for n in range(jobs):
        name = names[n % len(names)]
        spec = providers.get(name).spec(providers.get(name).default_model)
        seconds = rng.choice([60, 90, 120, 180])  # simulated generation time
        queue = rng.choice([0, 5, 15])
        plan.append((name, spec, seconds, queue))

    cpu0, wall0 = time.process_time(), time.monotonic()
    async with JobManager(settings) as manager:
        rows = []
        for n, (name, _spec, seconds, queue) in enumerate(plan):
            prompt = f"bench job {n} sim:seconds={seconds} sim:queue={queue}"
            rows.append(await manager.submit(RequestArgs(prompt=prompt, provider=name)))
        submitted = time.monotonic()
        with anyio.fail_after(600):
            for row in rows:
                await manager.wait(row.job_id, 600)
        finished = [manager.get(r.job_id) for r in rows]
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0

    ok = sum(r.status == "succeeded" for r in finished)
    print(
        f"{jobs} jobs, speed x{speed:g}: {ok} succeeded in {wall:.1f} s (submitting took {submitted - wall0:.1f} s); "
        f"engine CPU {cpu:.1f} s = {100 * cpu / wall:.0f}% of one core, {1000 * cpu / jobs:.0f} ms per job "
        "(submit, polls, download, probe, thumbnail)"
    )
    print(
        f"{'provider':<10} {'jobs':>4} {'polls/job':>10} {'minimum/job':>12} {'ratio':>6}  "
        "finished after the provider (real s: the last poll interval + download, probe, thumbnail)"
    )
    by_provider = defaultdict(list)
    for row, (name, spec, seconds, queue) in zip(finished, plan, strict=True):
        by_provider[name].append((row, spec, seconds, queue))
    async with httpx.AsyncClient() as client:
        for name, items in by_provider.items():
            stats = (await client.get(f"{simulate_url}/{name}/_sim/stats")).json()
            polls = [stats["polls"].get(row.provider_ref, 0) for row, *_ in items]
            provider = providers.get(name)
            minimum = [minimum_polls(provider, spec, queue, seconds) for _, spec, seconds, queue in items]
            late = []
            for row, _spec, seconds, queue in items:
                done_at = row.created_at + (queue + seconds) / speed
                seen_at = row.finished_at or done_at
                late.append(max(0.0, seen_at - done_at))
            print(
                f"{name:<10} {len(items):>4} {statistics.mean(polls):>10.1f} {statistics.mean(minimum):>12.1f} "
                f"{statistics.mean(polls) / statistics.mean(minimum):>6.2f}  median {statistics.median(late):.2f}, "
                f"max {max(late):.2f}"
            )


async def watch(jobs: int, seconds: float, simulate_url: str, tmp: str) -> None:
    """Submit long jobs at real speed, then measure the engine while it only watches them."""
    env = {
        **os.environ,
        **sample_env(simulate_url),
        "VIDEOGEN_DATA_DIR": f"{tmp}/data",
        "VIDEOGEN_OUTPUT_DIR": f"{tmp}/out",
        "VIDEOGEN_LEASE_SECONDS": "60",
    }
    names = list(SIMULATORS)
    async with JobManager(Settings.from_env(env)) as manager:
        rows = []
        started = time.monotonic()
        lap = started
        for n in range(jobs):
            prompt = f"watch {n} sim:seconds=36000 sim:queue=0"
            rows.append(await manager.submit(RequestArgs(prompt=prompt, provider=names[n % len(names)])))
            if (n + 1) % 1000 == 0:
                now = time.monotonic()
                print(f"  {n + 1} submitted: the last 1000 at {1000 / (now - lap):.0f} a second", flush=True)
                lap = now
        took = time.monotonic() - started
        print(
            f"submitted {jobs} jobs in {took:.1f} s ({jobs / took:.0f} a second); machine load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        await anyio.sleep(min(30.0, seconds / 2))  # let the first, faster polls pass
        async with httpx.AsyncClient() as client:

            async def polls() -> Counter[str]:
                stats = {n: (await client.get(f"{simulate_url}/{n}/_sim/stats")).json() for n in names}
                return Counter({n: sum(s["polls"].values()) for n, s in stats.items()})

            before, cpu0, wall0, sim0 = await polls(), time.process_time(), time.monotonic(), simulator_cpu()
            await anyio.sleep(seconds)
            after, cpu, wall = await polls(), time.process_time() - cpu0, time.monotonic() - wall0
            sim = simulator_cpu() - sim0
            middle = time.time() - wall / 2
        ended = [manager.get(row.job_id) for row in rows]
        # What each provider's cadence asks for its jobs' ages in the middle of the window (the engine's
        # interval: the provider's cadence, slowed for a job far past its model's usual time), read while the
        # engine's providers still hold what they learned (Wireflow's limit, its followed runs).
        asked: dict[str, float] = {}
        for name in names:
            provider = manager.providers.get(name)
            asked[name] = sum(
                60 / manager._interval(provider, provider.spec(r.model), middle - r.created_at)
                for r in ended
                if r.provider == name and r.status in ("queued", "running")
            )
    states = Counter(row.status for row in ended)
    requests = sum((after - before).values())
    print(
        f"watching {jobs} jobs for {wall:.0f} s: engine CPU {100 * cpu / wall:.1f}% of one core, "
        f"{requests / wall:.1f} status requests/s ({requests / jobs / wall * 60:.1f} per job per min), "
        f"{1000 * cpu / max(requests, 1):.2f} ms CPU per request; peak memory {peak_rss_mb():.0f} MB; "
        f"jobs {dict(states)}; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"the simulators' process: CPU {100 * sim / wall:.1f}% of one core (it serves every status request)")
    print(f"{'provider':<10} {'followed':>8} {'polls/min':>10} {'cadence asks':>13} {'ratio':>6}")
    for name in names:
        followed = sum(r.provider == name and r.status in ("queued", "running") for r in ended)
        done = (after[name] - before[name]) / wall * 60
        ratio = f"{done / asked[name]:6.2f}" if asked[name] else "     -"
        print(f"{name:<10} {followed:>8} {done:>10.0f} {asked[name]:>13.0f} {ratio}")
    report_not_running(ended)


def report_not_running(rows: list) -> None:
    """The jobs not running at the end, by (provider, status, error code), each group with one message: a
    failure is explained by what the engine said, not guessed."""
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for row in rows:
        if row.status != "running":
            code = (row.error or {}).get("code") or "-"
            groups[(row.provider, row.status, code)].append(row)
    if not groups:
        print("every job is running")
        return
    print(f"{'provider':<10} {'status':<10} {'error code':<20} {'jobs':>5}  a sample message")
    for (provider, status, code), items in sorted(groups.items(), key=lambda g: -len(g[1])):
        print(f"{provider:<10} {status:<10} {code:<20} {len(items):>5}  {items[0].job_id}: {items[0].message}")


SIMULATOR_PID = 0  # set by main


def simulator_cpu() -> float:
    """CPU seconds the simulators' process has used (Linux's /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{SIMULATOR_PID}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """The engine process's peak resident memory (the simulators run in their own process)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--watch", type=float, default=0, help="seconds to measure watching long jobs instead")
    parser.add_argument("--uvloop", action="store_true", help="run the engine on uvloop (pip install uvloop)")
    opts = parser.parse_args()
    loop = {"backend_options": {"use_uvloop": True}} if opts.uvloop else {}
    global SIMULATOR_PID
    with simulators(1.0 if opts.watch else opts.speed) as (url, SIMULATOR_PID), tempfile.TemporaryDirectory() as tmp:
        if opts.watch:
            anyio.run(watch, opts.jobs, opts.watch, url, tmp, **loop)
        else:
            anyio.run(run, opts.jobs, opts.speed, url, tmp, **loop)


if __name__ == "__main__":
    main()
