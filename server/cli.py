"""Command line: `mcp-videogen` serves MCP over stdio; the other commands use the same engine for people."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import anyio

EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-videogen", description="Video generation for AI agents (MCP server).")
    parser.add_argument("--debug", action="store_true", help="verbose logs on stderr")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the MCP server (default: stdio)")
    serve.add_argument("--transport", choices=["stdio", "sse", "streamable-http"], default="stdio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--auth-token", help="require 'Authorization: Bearer TOKEN' (default: VIDEOGEN_AUTH_TOKEN)")
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        dest="allowed_hosts",
        help="a Host name clients may use besides loopback (repeatable; VIDEOGEN_ALLOWED_HOSTS)",
    )
    serve.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback bind without a token (another layer must authenticate)",
    )

    def request_args(p: argparse.ArgumentParser) -> None:
        from server.request import add_request_flags

        add_request_flags(p)  # the request's fields, as the tools take them
        p.add_argument("--json", action="store_true", help="print JSON")

    gen = sub.add_parser("generate", help="make a video and print its path")
    request_args(gen)
    gen.add_argument("--idempotency-key")
    gen.add_argument("--no-wait", action="store_true", help="print the job and return at once")
    gen.add_argument("--yes", action="store_true", help="approve a cost above VIDEOGEN_CONFIRM_ABOVE")

    status = sub.add_parser("status", help="show a job")
    status.add_argument("job_id")
    status.add_argument("--wait", type=float, default=0, help="wait up to this many seconds for it to finish")
    status.add_argument("--json", action="store_true")

    jobs = sub.add_parser("jobs", help="list recent jobs")
    jobs.add_argument("--status")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="list models, capabilities and prices")
    models.add_argument("--provider")
    models.add_argument("--json", action="store_true")

    cost = sub.add_parser("cost", help="estimate the price of a request")
    request_args(cost)

    spend = sub.add_parser("spend", help="today's and this month's spend per provider, and the limits")
    spend.add_argument("--json", action="store_true")

    simulate = sub.add_parser("simulate", help="serve local simulators of the providers' APIs (for trying and testing)")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8765)
    simulate.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    simulate.add_argument(
        "--faults",
        default="",
        help='inject faults, e.g. "429=0.2,503=0.1,timeout=0.05,'
        'reset=0.05,malformed=0.05,stuck=0.02,expired_url=0.05" (rates per request)',
    )
    simulate.add_argument("--seed", type=int, default=0, help="seed for the fault draws")

    ui = sub.add_parser("ui", help="a local web page of your jobs: thumbnails, status, cost, a player (127.0.0.1)")
    ui.add_argument("--port", type=int, default=8777)
    ui.add_argument("--no-open", action="store_true", help="do not open a browser")

    cancel = sub.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.add_argument("--json", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.debug)
    command = args.command or "serve"
    from providers.base import ProviderError
    from server.jobs import UnknownJob
    from server.settings import SettingsError

    try:
        if command == "serve":
            return _serve(args if args.command else _parser().parse_args(["serve"]))
        if command == "simulate":
            return _simulate(args.host, args.port, args.speed, args.faults, args.seed)
        return anyio.run(_COMMANDS[command], args)
    except BaseException as raised:
        # Task groups (serve's) wrap a failure in an exception group: judge the one error inside.
        error = _sole(raised)
        if isinstance(error, (ProviderError, UnknownJob, SettingsError)):
            message = f"{error.code.value}: {error.message}" if isinstance(error, ProviderError) else str(error)
            print(f"error: {message}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(error, RuntimeError) and not args.debug:
            # The job index cannot be opened (a corrupt or read-only file: the store's StoreError says which
            # and what to do) and the like: one line, not a traceback. --debug shows the traceback.
            print(f"error: {error} (run with --debug for details)", file=sys.stderr)
            return EXIT_FAILED
        if isinstance(error, KeyboardInterrupt):
            print("\ninterrupted; unfinished jobs resume the next time the server runs", file=sys.stderr)
            return 130
        raise


def _sole(error: BaseException) -> BaseException:
    """The only error in a (nested) exception group, or the error itself."""
    while len(inner := tuple(getattr(error, "exceptions", ()))) == 1:
        error = inner[0]
    return error


def _configure_logging(debug: bool) -> None:
    import logging

    from providers.http import RedactingFilter, guard_http_logs

    # stdout belongs to the MCP protocol under stdio: logs go to stderr.
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # --debug shows every header and URL the HTTP libraries see: no token, key or signed query gets printed.
    guard_http_logs()
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())


def _serve(args: argparse.Namespace) -> int:
    import os

    from server.app import build_server
    from server.settings import Settings
    from server.transport import check_bind, http_app, serve_stdio

    settings = Settings.from_env()
    max_bytes = settings.max_request_bytes
    if args.transport == "stdio":
        anyio.run(serve_stdio, build_server(settings), max_bytes)
        return 0
    token = args.auth_token or os.environ.get("VIDEOGEN_AUTH_TOKEN") or None
    allowed = [*args.allowed_hosts, *filter(None, os.environ.get("VIDEOGEN_ALLOWED_HOSTS", "").split(","))]
    check_bind(args.host, token, args.insecure)

    async def run_http() -> None:
        import uvicorn

        from server.jobs import JobManager
        from server.webhooks import webhook_app

        # One engine for the whole process: SSE would otherwise start one per connection. Only a served
        # HTTP app can receive provider callbacks, so only here may jobs advertise a callback URL.
        async with JobManager(settings, callbacks=True) as manager:
            hooks = webhook_app(manager) if manager.callbacks else None
            mcp = build_server(settings, manager)
            app = http_app(
                mcp, args.transport, args.host, args.port, token, allowed, webhooks=hooks, max_bytes=max_bytes
            )
            await uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).serve()

    anyio.run(run_http)
    return 0


def _simulate(host: str, port: int, speed: float, faults: str = "", seed: int = 0) -> int:
    import uvicorn

    from providers.simulators import SIMULATORS, build_app, sample_env

    if speed <= 0:
        print("error: --speed must be above 0", file=sys.stderr)
        return EXIT_USAGE
    print(f"simulators of {', '.join(SIMULATORS)} on http://{host}:{port} (speed x{speed:g})", file=sys.stderr)
    print("point mcp-videogen at them with this environment:", file=sys.stderr)
    for key, value in sample_env(f"http://{host}:{port}").items():
        print(f"export {key}={value}", file=sys.stderr)
    try:
        app = build_app(speed, faults=faults, seed=seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def _request(args: argparse.Namespace) -> Any:
    from server.request import from_flags

    return from_flags(args)


def _engine(resume: bool = True, named_files: Sequence[str] = ()) -> Any:
    """The engine for one command. `named_files`: local images and videos the person named on their own command
    line; their folders may be read for this run (agents, over MCP, never get this)."""
    from pathlib import Path

    from providers.images import classify
    from server.jobs import JobManager
    from server.settings import Settings

    settings = Settings.from_env()
    settings.allowed_dirs += [Path(p).expanduser().resolve().parent for p in named_files if classify(p) == "path"]
    return JobManager(settings, resume=resume)


def _print_job(row: Any, as_json: bool) -> None:
    from server.present import summary, to_job

    job = to_job(row)
    print(job.model_dump_json(indent=2) if as_json else summary(job))


class _Bar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    async def __call__(self, row: Any) -> None:
        from server.present import progress_value

        pct = progress_value(row)
        filled = int(pct / 100 * 30)
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {pct:5.1f}% {row.status}: {row.message}"[:120]
        if line == self.last:
            return
        self.last = line
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line)
            if row.terminal:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _confirm(m: Any, args: argparse.Namespace) -> bool:
    """A person at the terminal approves a cost above VIDEOGEN_CONFIRM_ABOVE (or passes --yes)."""
    report = m.catalog.estimate(_request(args))
    check = m.budget.check(report.usd)
    if not check.needs_confirmation or args.yes:
        return True
    if not sys.stdin.isatty():
        print(
            f"error: this video costs about ${report.usd:.2f}, above VIDEOGEN_CONFIRM_ABOVE "
            f"(${check.confirm_above_usd:.2f}); pass --yes to approve",
            file=sys.stderr,
        )
        return False
    answer = input(f"Generate for about ${report.usd:.2f} (spent today: ${check.today_spent_usd:.2f})? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def _generate(args: argparse.Namespace) -> int:
    named = [*(args.images or []), *(f for f in (args.end_image, args.video) if f)]
    async with _engine(named_files=named) as m:
        await m.catalog.prepare(args.provider, args.model)  # an aggregator's uncurated model, read first
        if not _confirm(m, args):
            return EXIT_USAGE
        row = await m.submit(_request(args), args.idempotency_key)
        if not args.no_wait:
            row = await m.wait(row.job_id, float("inf"), None if args.json else _Bar())
        if args.json:
            _print_job(row, True)
        elif row.status == "succeeded":
            print(row.video["path"])
        else:
            _print_job(row, False)
        return 0 if row.status in ("succeeded", "pending", "queued", "running") else EXIT_FAILED


async def _status(args: argparse.Namespace) -> int:
    async with _engine(resume=args.wait > 0) as m:
        row = m.get(args.job_id)
        if args.wait > 0:
            row = await m.wait(row.job_id, args.wait, None if args.json else _Bar())
        _print_job(row, args.json)
        return EXIT_FAILED if row.status == "failed" else 0


async def _jobs(args: argparse.Namespace) -> int:
    from server.present import to_job

    async with _engine(resume=False) as m:
        rows = m.db.list(args.status, args.limit)
        if args.json:
            print(json.dumps([to_job(r).model_dump(mode="json") for r in rows], indent=2))
            return 0
        for r in rows:
            cost = r.cost_charged if r.cost_charged is not None else r.cost_estimate
            print(
                f"{r.job_id}  {r.status:<11} {r.provider}/{r.model:<16} ${cost or 0:6.2f}  {r.request['prompt'][:50]}"
            )
        if not rows:
            print("no jobs yet")
        return 0


async def _models(args: argparse.Namespace) -> int:
    async with _engine(resume=False) as m:
        listing = m.catalog.models(args.provider)
        if args.json:
            print(listing.model_dump_json(indent=2))
            return 0
        for info in listing.models:
            ready = "ready" if info.configured else f"set {', '.join(info.missing_env)}"
            mark = "*" if info.is_default else " "
            print(f"{mark} {info.provider}/{info.model}: {info.name} [{ready}]")
            print(
                f"    {', '.join(info.modes)}; {', '.join(f'{d:g}' for d in info.durations)} s; "
                f"{', '.join(info.aspect_ratios)}; {', '.join(info.resolutions)}; {info.price}"
            )
        return 0


async def _cost(args: argparse.Namespace) -> int:
    async with _engine(resume=False) as m:
        await m.catalog.prepare(args.provider, args.model)
        report = m.catalog.estimate(_request(args))
        if args.json:
            print(report.model_dump_json(indent=2))
            return 0
        print(f"{report.provider}/{report.model}: ${report.usd:.2f} ({report.rule})")
        for line in report.breakdown:
            print(f"  {line.item}: ${line.usd:.2f}")
        if report.note:
            print(f"  note: {report.note}")
        check = m.budget.check(report.usd)
        if check.remaining_today_usd is not None:
            print(f"  today: ${check.today_spent_usd:.2f} spent, ${check.remaining_today_usd:.2f} left of the budget")
        if check.refused:
            print(f"  refused: {check.refused}")
        elif check.needs_confirmation:
            print("  needs your confirmation (VIDEOGEN_CONFIRM_ABOVE)")
        return 0


async def _spend(args: argparse.Namespace) -> int:
    async with _engine(resume=False) as m:
        report = m.budget.report()
        if args.json:
            print(report.model_dump_json(indent=2))
            return 0
        for title, total, lines in (
            ("today", report.today_usd, report.today),
            ("this month", report.month_usd, report.month),
        ):
            print(f"{title}: ${total:.2f}")
            for line in lines:
                print(f"  {line.provider}: ${line.usd:.2f} ({line.jobs} jobs)")
        limits = report.limits
        for name, value in (
            ("per job", limits.max_cost_per_job),
            ("daily budget", limits.daily_budget),
            ("confirm above", limits.confirm_above),
        ):
            print(f"{name}: {'none' if value is None else f'${value:.2f}'}")
        return 0


async def _cancel(args: argparse.Namespace) -> int:
    async with _engine(resume=False) as m:
        row = await m.cancel(args.job_id)
        _print_job(row, args.json)
        return 0


async def _ui(args: argparse.Namespace) -> int:
    import functools
    import socket

    import uvicorn

    from server.delivery.gallery import gallery_app
    from server.delivery.links import LinkSigner

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", args.port))  # loopback only: the page shows every job and its prompt
        listener.listen(128)
    except OSError as error:
        listener.close()
        print(f"error: cannot listen on 127.0.0.1:{args.port} ({error.strerror}); use another --port", file=sys.stderr)
        return EXIT_USAGE
    # Read-only: no resume, so this process never takes over a job; the server (or `generate`) runs them.
    async with _engine(resume=False) as m:
        signer = LinkSigner.from_data_dir(m.settings.data_dir)
        app = gallery_app(m.db, m.settings.output_dir, signer)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [listener])
            print(f"videogen gallery on {url} (Ctrl-C to stop)", file=sys.stderr)
            if not args.no_open:
                tg.start_soon(functools.partial(anyio.to_thread.run_sync, _open_browser, url, abandon_on_cancel=True))
    return 0


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except Exception:  # no browser here (a server, a container): the URL is printed
        pass


_COMMANDS = {
    "generate": _generate,
    "status": _status,
    "jobs": _jobs,
    "models": _models,
    "cost": _cost,
    "cancel": _cancel,
    "spend": _spend,
    "ui": _ui,
}

if __name__ == "__main__":
    sys.exit(main())
