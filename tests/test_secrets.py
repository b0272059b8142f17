"""Provider keys never leave the server: not in tool results, errors, logs (`--debug` included), the job
index, the output folder or exceptions.

Every provider gets a distinctive fake key (and a distinct wrong one) that its simulator accepts (or
refuses). Every path is run: success, content-policy and internal failures, a wrong key, no credit,
cancel, estimate, listings, status reads and provider errors while polling; in-process through the MCP
tools, through the adapters directly, through the CLI with `--debug`, and over stdio with `--debug`.
Then everything they produced is scanned for each key, its base64, a slice of it, and every credential
the simulators actually received (Kling's JWTs, signature and payload parts included).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import subprocess
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from conftest import PYTHON, ROOT, subprocess_env
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

import providers.http
from providers.base import ProviderError
from providers.registry import Providers
from providers.simulators import build_app
from providers.simulators.common import Simulator, free_port, running
from server.app import build_server
from server.catalog import Catalog, RequestArgs
from server.notify import JOBS_URI
from server.settings import Settings

pytestmark = pytest.mark.anyio

SPEED = 300.0  # a simulated minute passes in 0.2 s
PROVIDERS = ("runway", "fal", "kling", "runblob", "wireflow")

# The keys each simulator accepts, made fresh for every run so a hit cannot be a coincidence.
KEYS = {
    "RUNWAYML_API_SECRET": "key_" + token_hex(64),  # Runway: key_ and 128 hex digits
    "FAL_KEY": f"{uuid.uuid4()}:{token_hex(16)}",  # fal: <key id>:<secret>, registered in the simulator
    "KLING_ACCESS_KEY": "AKfake" + token_hex(14),  # Kling: a pair, registered in the simulator
    "KLING_SECRET_KEY": "SKfake" + token_hex(20),
    "RUNBLOB_API_KEY": "rb_fake_" + token_hex(20),  # registered in the simulator
    "WIREFLOW_API_KEY": "sk-" + token_hex(24),  # Wireflow: any sk-...
}
# A wrong key per provider, refused by its simulator (AUTH).
WRONG = {
    "RUNWAYML_API_SECRET": "key_" + token_hex(63) + "zz",  # not 128 hex digits: 401
    "FAL_KEY": f"{uuid.uuid4()}:{token_hex(16)}",  # not the registered key: 401
    "KLING_ACCESS_KEY": "AKwrong" + token_hex(14),  # unknown access key: 1000
    "KLING_SECRET_KEY": "SKwrong" + token_hex(20),  # with the right access key: a bad signature, 1002
    "RUNBLOB_API_KEY": "rb_wrong_" + token_hex(20),
    "WIREFLOW_API_KEY": "sk-expired-" + token_hex(20),  # an expired key: 401
}
# The wrong environments tried per provider (Kling: an unknown pair, and the right access key with a wrong secret).
AUTH_VARIANTS: dict[str, list[dict[str, str]]] = {
    "runway": [{"RUNWAYML_API_SECRET": WRONG["RUNWAYML_API_SECRET"]}],
    "fal": [{"FAL_KEY": WRONG["FAL_KEY"]}],
    "kling": [
        {"KLING_ACCESS_KEY": WRONG["KLING_ACCESS_KEY"], "KLING_SECRET_KEY": WRONG["KLING_SECRET_KEY"]},
        {"KLING_SECRET_KEY": WRONG["KLING_SECRET_KEY"]},
    ],
    "runblob": [{"RUNBLOB_API_KEY": WRONG["RUNBLOB_API_KEY"]}],
    "wireflow": [{"WIREFLOW_API_KEY": WRONG["WIREFLOW_API_KEY"]}],
}
ARGS: dict[str, dict[str, Any]] = {
    "runway": {"model": "gen4.5", "duration": 2},
    "fal": {},
    "kling": {},
    "runblob": {},
    "wireflow": {},
}
CLI_ARGS = {"runway": ["--model", "gen4.5", "--duration", "2"]}
# Each simulator's switch for an account without credit.
OUT_OF_CREDIT: dict[str, dict[str, Any]] = {
    "runway": {"credits": 0},
    "fal": {"balance": 0},
    "kling": {"balance": 0},
    "runblob": {"credits": 0.0},
    "wireflow": {"credits": 0},
}
# Provider errors while polling: more than one poll's retries, so the engine logs one and polls again.
# Kling first refuses the JWT as expired (1004), so a second token is made and sent.
POLL_FAULTS: dict[str, dict[str, Any]] = {
    "runway": {"errors": [502] * 5},
    "fal": {"server_errors": 5, "on": "GET", "error_status": 502},
    "kling": {"fail_query": [1004] + [5000] * 5},
    "runblob": {"status_faults": [500] * 5},
    "wireflow": {"fail_polls": 3},
}
FAULTS_LEFT: dict[str, Callable[[dict[str, Any]], bool]] = {
    "runway": lambda c: bool(c.get("errors")),
    "fal": lambda c: c.get("server_errors", 0) > 0,
    "kling": lambda c: bool(c.get("fail_query")),
    "runblob": lambda c: bool(c.get("status_faults")),
    "wireflow": lambda c: c.get("fail_polls", 0) > 0,
}
MODES = {"runway": "auto", "fal": "legacy", "kling": "auto", "runblob": "legacy", "wireflow": "auto"}
OTHER_MODE = {"auto": "legacy", "legacy": "auto"}
QUICK = "sim:seconds=30"  # 0.1 s of running at SPEED


# -- the simulators, with every credential they receive written down --------------------------------


class Wire:
    """ASGI wrapper around the simulators: records each request's path and Authorization header."""

    def __init__(self, app: Any):
        self.app = app
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name.lower() == b"authorization":
                    with self.lock:
                        self.seen.append((scope["path"], value.decode("latin-1")))
        await self.app(scope, receive, send)

    def credentials(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(dict.fromkeys(self.seen))


@dataclass
class Sims:
    url: str
    by_name: dict[str, Simulator]
    wire: Wire

    def reset(self) -> None:
        """Every simulator back to: the good keys registered, no switches set."""
        for sim in self.by_name.values():
            with sim.lock:
                sim.config.clear()
        self.by_name["fal"].config.update(status_errors=True, key=KEYS["FAL_KEY"])
        self.by_name["kling"].config["keys"] = {KEYS["KLING_ACCESS_KEY"]: KEYS["KLING_SECRET_KEY"]}
        self.by_name["runblob"].config["api_keys"] = [KEYS["RUNBLOB_API_KEY"]]


@pytest.fixture(scope="module")
def served() -> Iterator[Sims]:
    app = build_app(speed=SPEED)
    wire = Wire(app)
    with running(wire) as url:
        yield Sims(url, app.state.simulators, wire)


@pytest.fixture
def sims(served: Sims) -> Sims:
    served.reset()
    return served


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process only: the shared client's backoff at 2% (what VIDEOGEN_RETRY_SCALE=0.02 asks for)."""
    original = providers.http.backoff_delay

    def scaled(*args: Any, **kwargs: Any) -> float:
        return original(*args, **kwargs) * 0.02

    monkeypatch.setattr(providers.http, "backoff_delay", scaled)


@pytest.fixture
def keyed_env(env: dict[str, str], sims: Sims) -> dict[str, str]:
    return {
        **env,
        **{f"VIDEOGEN_{name.upper()}_BASE_URL": f"{sims.url}/{name}" for name in PROVIDERS},
        **KEYS,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_RETRY_SCALE": "0.02",
        "VIDEOGEN_STUCK_SECONDS": "1000000",  # processes side by side on busy CPUs are slow, not stuck
    }


# -- the scan ------------------------------------------------------------------------------------


def needles(wire: Wire) -> dict[str, str]:
    """Every form of every secret worth looking for -> a name for it (never the value itself)."""
    found: dict[str, str] = {}

    def add(name: str, value: str) -> None:
        if len(value) < 12:
            return
        found.setdefault(value, name)
        raw = value.encode()
        found.setdefault(base64.b64encode(raw).decode(), f"{name} (base64)")
        found.setdefault(base64.urlsafe_b64encode(raw).decode().rstrip("="), f"{name} (base64url)")
        found.setdefault(quote(value, safe=""), f"{name} (URL-encoded)")
        if len(value) >= 40:  # a cut-off copy (a trimmed message) still leaks most of it
            middle = len(value) // 2
            found.setdefault(value[middle - 12 : middle + 12], f"{name} (a 24-character slice)")

    for var, value in KEYS.items():
        add(var, value)
    for var, value in WRONG.items():
        add(f"wrong {var}", value)
    for path, header in wire.credentials():
        scheme, _, token = header.strip().partition(" ")
        provider = path.strip("/").split("/")[0]
        add(f"the {scheme} credential sent to the {provider} simulator", token.strip())
        parts = token.strip().split(".")
        if len(parts) == 3 and provider == "kling":  # a JWT: its payload names the access key, its signature signs
            add("a Kling JWT's signature", parts[2])
            add("a Kling JWT's payload", parts[1])
    return found


class Scan:
    """Everything a run produced, by where it was found; `assert_clean` reports each secret found."""

    def __init__(self, wire: Wire):
        self.wire = wire
        self.texts: list[tuple[str, str]] = []

    def text(self, where: str, value: str | None) -> None:
        self.texts.append((where, value or ""))

    def data(self, where: str, raw: bytes) -> None:
        self.texts.append((where, raw.decode("latin-1")))  # byte for byte: the needles are ASCII

    def result(self, where: str, result: Any) -> None:
        self.text(f"{where}: content", "\n".join(c.model_dump_json() for c in result.content))
        self.text(f"{where}: structured_content", json.dumps(result.structured_content))
        self.text(f"{where}: whole result", result.model_dump_json())

    def exception(self, where: str, error: BaseException) -> None:
        self.text(f"{where}: str()", str(error))
        self.text(f"{where}: repr()", repr(error))
        self.text(f"{where}: traceback", "".join(traceback.format_exception(error)))
        self.text(f"{where}: attributes", repr(getattr(error, "__dict__", {})))

    def files(self, where: str, root: Path) -> None:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    try:
                        self.data(f"{where}/{path.relative_to(root)}", path.read_bytes())
                    except FileNotFoundError:  # a -wal/-shm file removed as we looked
                        pass

    def records(self, records: list[logging.LogRecord]) -> None:
        formatter = logging.Formatter("%(levelname)s %(name)s [%(threadName)s]: %(message)s")
        for record in records:
            where = f"log record ({record.levelname} {record.name}: {record.msg!r:.70})"
            self.text(where, formatter.format(record) + "\n" + repr(vars(record)))

    def hits(self) -> list[str]:
        table = needles(self.wire)
        found = []
        for where, text in self.texts:
            for needle, name in table.items():
                at = text.find(needle)
                if at >= 0:
                    context = text[max(0, at - 100) : at + len(needle) + 100].replace(needle, f"<<{name}>>")
                    found.append(f"- {name} in {where}:\n    ...{context!r}...")
        return found

    def assert_clean(self) -> None:
        hits = self.hits()
        shown = "\n".join(hits[:40]) + (f"\n... and {len(hits) - 40} more" if len(hits) > 40 else "")
        assert not hits, f"{len(hits)} secret leak(s) in {len(self.texts)} places scanned:\n{shown}"
        assert self.texts, "nothing was scanned"

    def downloads_without_credentials(self) -> None:
        """The video's URL is another host in real life (a CDN): no provider key may go there."""
        sent = [path for path, _ in self.wire.credentials() if "/_sim/videos/" in path]
        assert not sent, f"a provider credential was sent with the video download: {sent}"


class Caller:
    """Calls a tool, scanning its result (or the exception it raised) and its progress messages."""

    def __init__(self, client: Client, scan: Scan, where: str):
        self.client, self.scan, self.where = client, scan, where

    async def __call__(self, tool: str, arguments: dict[str, Any]) -> Any:
        label = f"{self.where} {tool}({json.dumps(arguments)[:120]})"

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self.scan.text(f"{label}: progress notification", message)

        try:
            result = await self.client.call_tool(tool, arguments, progress_callback=on_progress)
        except Exception as error:
            self.scan.exception(f"{label} raised", error)
            raise
        self.scan.result(label, result)
        return result

    async def resource(self, uri: str) -> Any:
        try:
            result = await self.client.read_resource(uri)
        except Exception as error:
            self.scan.exception(f"{self.where} read_resource({uri}) raised", error)
            raise
        self.scan.text(f"{self.where} resource {uri}", result.model_dump_json())
        return result


async def until(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.01)


def failed_with(result: Any, *codes: str) -> dict[str, Any]:
    job = result.structured_content
    assert not result.is_error and job["status"] == "failed", result.content
    assert job["error"]["code"] in codes, job["error"]
    return job


def log_sink(scan: Scan, where: str) -> Callable[[Any], Any]:
    async def on_log(params: Any) -> None:
        scan.text(f"{where}: MCP log notification", params.model_dump_json())

    return on_log


# -- 1. every path through the MCP tools, in-process ---------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
async def test_tools_never_reveal_a_key(
    name: str, keyed_env: dict[str, str], sims: Sims, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    sim = sims.by_name[name]
    scan = Scan(sims.wire)
    settings = Settings.from_env(keyed_env)
    args = {"provider": name, **ARGS[name]}
    mode = MODES[name]
    try:
        async with Client(
            build_server(settings), mode=mode, logging_callback=log_sink(scan, "server"), log_level="debug"
        ) as client:
            call = Caller(client, scan, f"[{name}, mode {mode}]")
            await call("list_models", {})
            listed = await call("list_models", {"provider": name})
            assert all(m["configured"] for m in listed.structured_content["models"])
            cost = await call("estimate_cost", {"prompt": "a fox", **args})
            assert not cost.is_error and cost.structured_content["configured"] is True

            jobs: dict[str, str] = {}
            sim.config.update(copy.deepcopy(OUT_OF_CREDIT[name]))
            broke = await call("generate_video", {"prompt": f"no money {QUICK}", "wait_seconds": 20, **args})
            jobs["out of credit"] = failed_with(broke, "OUT_OF_CREDIT")["job_id"]
            sims.reset()

            # Success, two kinds of failure and a cancel, side by side.
            prompts = {
                "success": f"a red fox in snow {QUICK}",
                "content failure": f"a storm sim:fail=content {QUICK}",
                "internal failure": f"a calm sea sim:fail=internal {QUICK}",
                "cancel": "never mind sim:queue=3000",
            }
            before = sim.submissions
            for path, prompt in prompts.items():
                started = await call("generate_video", {"prompt": prompt, "wait_seconds": 0, **args})
                assert not started.is_error, started.content
                jobs[path] = started.structured_content["job_id"]
            await until(lambda: sim.submissions >= before + len(prompts))
            cancelled = await call("cancel_job", {"job_id": jobs["cancel"]})
            assert cancelled.structured_content["status"] == "cancelled", cancelled.content
            done = {p: await call("get_status", {"job_id": jobs[p], "wait_seconds": 20}) for p in prompts}
            assert done["success"].structured_content["status"] == "succeeded", done["success"].content
            failed_with(done["content failure"], "CONTENT_POLICY")
            failed_with(done["internal failure"], "PROVIDER_FAILED", "TRANSIENT", "INTERNAL")

            # Provider errors while polling (retried, logged by the engine, polled again).
            before = sim.submissions
            slow = await call(
                "generate_video", {"prompt": f"a slow pan sim:queue=150 {QUICK}", "wait_seconds": 0, **args}
            )
            jobs["poll errors"] = slow.structured_content["job_id"]
            await until(lambda: sim.submissions > before)
            sim.config.update(copy.deepcopy(POLL_FAULTS[name]))
            polled = await call("get_status", {"job_id": jobs["poll errors"], "wait_seconds": 20})
            assert polled.structured_content["status"] in ("succeeded", "failed"), polled.content
            assert not FAULTS_LEFT[name](sim.config), f"the poll faults were not all used: {sim.config}"
            assert any("status check failed" in r.getMessage() for r in caplog.records), "no poll error was logged"

            await call("list_jobs", {})
            await call("list_jobs", {"status": "failed"})
            for job_id in jobs.values():
                await call("get_status", {"job_id": job_id})
                await call.resource(f"{JOBS_URI}/{job_id}")
            await call.resource(JOBS_URI)
            scan.files("data dir (server running)", settings.data_dir)
        scan.files("data dir", settings.data_dir)
        scan.files("output dir", settings.output_dir)
        assert sum(1 for p in settings.output_dir.glob("*.mp4")) >= 1

        # Wrong keys, through a server in the other protocol era.
        for n, wrong in enumerate(AUTH_VARIANTS[name]):
            bad = Settings.from_env({**keyed_env, **wrong})
            other = OTHER_MODE[mode]
            async with Client(build_server(bad), mode=other, logging_callback=log_sink(scan, "server")) as client:
                call = Caller(client, scan, f"[{name}, wrong key {n}, mode {other}]")
                refused = await call("generate_video", {"prompt": f"wrong key {QUICK}", "wait_seconds": 20, **args})
                job_id = failed_with(refused, "AUTH")["job_id"]
                await call("get_status", {"job_id": job_id, "wait_seconds": 1})
                await call("cancel_job", {"job_id": job_id})
                await call("list_jobs", {"limit": 50})
                await call("list_models", {"provider": name})
                await call("estimate_cost", {"prompt": "a fox", **args})
                unknown = await call("get_status", {"job_id": "job_nope"})
                assert unknown.is_error
                await call.resource(f"{JOBS_URI}/{job_id}")
            scan.files(f"data dir (after wrong key {n})", settings.data_dir)
        scan.downloads_without_credentials()
    finally:
        scan.records(caplog.records)
        scan.assert_clean()


# -- 2. the adapters' own exceptions ------------------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
async def test_adapter_exceptions_never_carry_a_key(
    name: str, keyed_env: dict[str, str], sims: Sims, caplog: pytest.LogCaptureFixture
):
    """The ProviderErrors the adapters raise: str, repr, traceback (chained causes too) and attributes."""
    caplog.set_level(logging.DEBUG)
    sim = sims.by_name[name]
    scan = Scan(sims.wire)
    settings = Settings.from_env(keyed_env)
    dead = {f"VIDEOGEN_{name.upper()}_BASE_URL": f"http://127.0.0.1:{free_port()}/{name}"}
    registries = {
        "good": Providers(settings.env, settings.allowed_dirs),
        "unreachable": Providers({**settings.env, **dead}, settings.allowed_dirs),
        **{
            f"wrong key {n}": Providers({**settings.env, **wrong}, settings.allowed_dirs)
            for n, wrong in enumerate(AUTH_VARIANTS[name])
        },
    }
    good, bad = registries["good"].get(name), registries["wrong key 0"].get(name)

    async def expect_error(where: str, action: Any) -> ProviderError:
        try:
            await action
        except ProviderError as error:
            scan.exception(f"[{name}] {where}", error)
            return error
        raise AssertionError(f"{where}: no error raised")

    try:
        _, _, request = Catalog(registries["good"], settings.allowed_dirs).resolve(
            RequestArgs(provider=name, prompt="direct sim:queue=3000", **ARGS[name])
        )
        for label, registry in registries.items():
            if label.startswith("wrong key"):
                refused = await expect_error(f"submit with {label}", registry.get(name).submit("job_wrong", request))
                assert refused.code.value == "AUTH", refused
        unreachable = registries["unreachable"].get(name).submit("job_unreachable", request)
        lost = await expect_error("submit to a closed port", unreachable)
        assert lost.code.value in ("TRANSIENT", "SUBMIT_UNCONFIRMED"), lost

        submission = await good.submit("job_direct_good", request)
        scan.text(f"[{name}] the Submission", submission.model_dump_json())
        denied = await expect_error("poll with a wrong key", bad.poll(submission, request))
        assert denied.code.value == "AUTH", denied

        sim.config.update(copy.deepcopy(POLL_FAULTS[name]))
        if name == "kling":  # a refused (expired) token, renewed, then one poll's worth of server errors
            sim.config["fail_query"] = [1004] + [5000] * 4
        failing = await expect_error("poll while the provider fails", good.poll(submission, request))
        assert failing.code.value == "TRANSIENT", failing
        sims.reset()
        if good.supports_cancel:
            await expect_error("cancel with a wrong key", bad.cancel(submission, request))
            await good.cancel(submission, request)
    finally:
        for registry in registries.values():
            await registry.aclose()
        scan.records(caplog.records)
        scan.assert_clean()


# -- 3. the command line with --debug, as a separate process -------------------------------------------


def spawn(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "server", "--debug", *argv],
        env=subprocess_env(env),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(scan: Scan, label: str, process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    scan.text(f"{label}: stdout", stdout)
    scan.text(f"{label}: stderr", stderr)
    return process.returncode, stdout, stderr


def test_cli_with_debug_never_prints_a_key(keyed_env: dict[str, str], sims: Sims, tmp_path: Path):
    """Every provider at once (processes side by side): a success, a content failure and a wrong key,
    then the read commands, on three indexes shared by the providers."""
    scan = Scan(sims.wire)
    problems: list[str] = []

    def where(label: str) -> dict[str, str]:
        return {
            **keyed_env,
            "VIDEOGEN_DATA_DIR": str(tmp_path / label / "data"),
            "VIDEOGEN_OUTPUT_DIR": str(tmp_path / label / "out"),
            "VIDEOGEN_LEASE_SECONDS": "60",  # busy CPUs must not hand a job to a neighbour process
        }

    good, content, wrong = where("good"), where("content"), where("wrong")
    try:
        runs: dict[tuple[str, str], subprocess.Popen[str]] = {}
        for name in PROVIDERS:
            extra = ["--provider", name, *CLI_ARGS.get(name, [])]
            runs[name, "success"] = spawn(good, "generate", f"a kite over hills {QUICK}", *extra)
            runs[name, "content failure"] = spawn(content, "generate", f"x sim:fail=content {QUICK}", "--json", *extra)
            bad = {**wrong, **AUTH_VARIANTS[name][0]}
            runs[name, "auth failure"] = spawn(bad, "generate", f"wrong key {QUICK}", "--json", *extra)
        done = {key: finish(scan, f"[{key[0]}] CLI generate, {key[1]}", process) for key, process in runs.items()}

        auth_jobs = {}
        for (name, path), (code, stdout, stderr) in done.items():
            if "DEBUG videogen.http" not in stderr:
                problems.append(f"{name} {path}: --debug logged no HTTP request: {stderr[-2000:]}")
            if path == "success":
                if code != 0 or not Path(stdout.strip()).is_file():
                    problems.append(f"{name} success: exit {code}: {stderr[-2000:]}")
                continue
            expected = "AUTH" if path == "auth failure" else "CONTENT_POLICY"
            try:
                job = json.loads(stdout)
            except ValueError:
                problems.append(f"{name} {path}: exit {code}, no JSON: {stdout[-500:]} {stderr[-2000:]}")
                continue
            if code != 1 or (job.get("error") or {}).get("code") != expected:
                problems.append(f"{name} {path}: exit {code}, {job.get('error')}")
            if path == "auth failure":
                auth_jobs[name] = job["job_id"]

        reads = {
            "jobs --json (successes)": spawn(good, "jobs", "--json"),
            "jobs (content failures)": spawn(content, "jobs"),
            "jobs --json (wrong keys)": spawn({**wrong, **AUTH_VARIANTS["kling"][0]}, "jobs", "--json"),
            "status (wrong key)": spawn({**wrong, **AUTH_VARIANTS["runway"][0]}, "status", auth_jobs.get("runway", "")),
        }
        for label, process in reads.items():
            code, _, stderr = finish(scan, f"CLI {label}", process)
            if code not in (0, 1):
                problems.append(f"{label}: exit {code}: {stderr[-2000:]}")
        for label in ("good", "content", "wrong"):
            scan.files(f"CLI {label} dir", tmp_path / label)
        scan.downloads_without_credentials()
    finally:
        scan.assert_clean()
    assert not problems, "\n".join(problems)


# -- 4. `serve --debug` over stdio, its stderr captured ----------------------------------------------


async def test_stdio_server_with_debug_never_logs_a_key(keyed_env: dict[str, str], sims: Sims, tmp_path: Path):
    name = "kling"  # the JWT-signing provider: the most credentials in flight
    sim = sims.by_name[name]
    scan = Scan(sims.wire)
    errlog_path = tmp_path / "server-stderr.log"
    settings = Settings.from_env(keyed_env)

    def server(env: dict[str, str]) -> Any:
        params = StdioServerParameters(
            command=PYTHON, args=["-m", "server", "--debug", "serve"], env=subprocess_env(env), cwd=str(ROOT)
        )
        return stdio_client(params, errlog=errlog)

    try:
        with errlog_path.open("w") as errlog:
            async with Client(
                server(keyed_env), mode="legacy", logging_callback=log_sink(scan, "stdio server")
            ) as client:
                call = Caller(client, scan, "[stdio kling]")
                await call("list_models", {"provider": name})
                await call("estimate_cost", {"prompt": "a fox", "provider": name})
                made = await call("generate_video", {"prompt": f"a fox {QUICK}", "provider": name, "wait_seconds": 30})
                assert made.structured_content["status"] == "succeeded", made.content
                bad = await call(
                    "generate_video", {"prompt": f"x sim:fail=content {QUICK}", "provider": name, "wait_seconds": 30}
                )
                failed_with(bad, "CONTENT_POLICY")

                before = sim.submissions
                slow = await call(
                    "generate_video", {"prompt": f"slow sim:queue=150 {QUICK}", "provider": name, "wait_seconds": 0}
                )
                await until(lambda: sim.submissions > before)
                sim.config["fail_query"] = [1004, 5000, 5000]  # a refused token, renewed; then server errors
                polled = await call("get_status", {"job_id": slow.structured_content["job_id"], "wait_seconds": 30})
                assert polled.structured_content["status"] in ("succeeded", "failed"), polled.content
                assert not sim.config["fail_query"]

                before = sim.submissions
                gone = await call(
                    "generate_video", {"prompt": "never mind sim:queue=3000", "provider": name, "wait_seconds": 0}
                )
                await until(lambda: sim.submissions > before)
                await call("cancel_job", {"job_id": gone.structured_content["job_id"]})
                await call("list_jobs", {})
                await call.resource(JOBS_URI)

            wrong = {**keyed_env, **AUTH_VARIANTS[name][0]}
            async with Client(server(wrong), mode="auto", logging_callback=log_sink(scan, "stdio server")) as client:
                call = Caller(client, scan, "[stdio kling, wrong keys]")
                refused = await call(
                    "generate_video", {"prompt": f"wrong {QUICK}", "provider": name, "wait_seconds": 30}
                )
                failed_with(refused, "AUTH")
                await call("list_jobs", {})
        stderr = errlog_path.read_text()
        scan.text("stdio server stderr (--debug)", stderr)
        assert "DEBUG" in stderr, "--debug logged nothing"
        assert len({token for path, token in sims.wire.credentials() if path.startswith("/kling/")}) >= 2
        scan.files("data dir", settings.data_dir)
        scan.files("output dir", settings.output_dir)
        scan.downloads_without_credentials()
    finally:
        if errlog_path.exists():
            scan.text("stdio server stderr (--debug)", errlog_path.read_text())
        scan.assert_clean()


def test_the_scan_finds_what_it_looks_for(sims: Sims):
    """The scanner itself: each form of a key is found, and named without the key."""
    scan = Scan(sims.wire)
    key = KEYS["RUNWAYML_API_SECRET"]
    scan.text("plain", f"Authorization: Bearer {key}")
    scan.text("base64", base64.b64encode(key.encode()).decode())
    scan.text("trimmed", key[:-30] + "…")
    scan.data("bytes", b"\x00\x01" + KEYS["FAL_KEY"].encode() + b"\x00")
    hits = "\n".join(scan.hits())
    for where in ("in plain", "(base64) in base64", "(a 24-character slice) in trimmed", "FAL_KEY in bytes"):
        assert where in hits, hits
    with pytest.raises(AssertionError, match="secret leak"):
        scan.assert_clean()
