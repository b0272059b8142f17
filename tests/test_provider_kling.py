"""The Kling adapter against the Kling simulator over loopback: through the MCP tools, the engine, and
the adapter itself; plus the docs' own example client against the simulator."""

from __future__ import annotations

import base64
import copy
import inspect
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.base import ErrorCode, InvalidRequest, ProviderError
from providers.kling import KlingProvider
from providers.registry import Providers
from providers.simulators.common import running
from providers.simulators.kling import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_API_KEY,
    DEFAULT_SECRET_KEY,
    KlingSimulator,
    create_app,
)
from server.app import build_server
from server.catalog import Catalog, RequestArgs
from server.jobs import SUBMIT_RESENDS, JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio
SUBMIT_TRIES = (SUBMIT_RESENDS + 1) * 4  # the engine's resends x the shared client's attempts

ACCESS, SECRET = DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY  # the simulator's default pair: distinctive fakes
SPEED = 400.0  # a 90 s simulated job (plus 10 s queued) takes a quarter of a second


@dataclass
class Sim:
    url: str  # the API root, as VIDEOGEN_KLING_BASE_URL
    sim: KlingSimulator


class Current:
    """The ASGI app mounted at /kling: a fresh simulator per test, one uvicorn server per module."""

    app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Current]]:
    current = Current()
    with running(Starlette(routes=[Mount("/kling", app=current)])) as root:
        yield root, current


@pytest.fixture
def kling(server: tuple[str, Current]) -> Sim:
    root, current = server
    current.app = create_app(speed=SPEED)
    return Sim(f"{root}/kling", current.app.state.sim)


@pytest.fixture
def kenv(env: dict[str, str], kling: Sim) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_KLING_BASE_URL": kling.url,
        "KLING_ACCESS_KEY": ACCESS,
        "KLING_SECRET_KEY": SECRET,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "kling",
    }


@pytest.fixture
def ksettings(kenv: dict[str, str]) -> Settings:
    return Settings.from_env(kenv)


def picture(path: Path, size: tuple[int, int] = (640, 360), fmt: str = "PNG") -> Path:
    from PIL import Image

    Image.new("RGB", size, (200, 120, 40)).save(path, format=fmt)
    return path


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def assert_no_secrets(result: Any) -> None:
    blob = json.dumps(result.structured_content) + " ".join(getattr(c, "text", "") for c in result.content)
    assert ACCESS not in blob and SECRET not in blob, blob


async def generate(settings: Settings, **args: Any) -> dict[str, Any]:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", args)
    assert not result.is_error, result.content
    assert_no_secrets(result)
    return result.structured_content


async def until(condition: Callable[[], Any]) -> None:
    """Wait up to 10 s for condition() (sync or async) to hold, checking every 20 ms."""
    with anyio.fail_after(10):
        while True:
            value = condition()
            if await value if inspect.isawaitable(value) else value:
                return
            await anyio.sleep(0.02)


def resolve(settings: Settings, **args: Any):
    catalog = Catalog(Providers(settings.env, settings.allowed_dirs), settings.allowed_dirs)
    provider, _, request = catalog.resolve(RequestArgs(provider="kling", **args))
    return provider, request


# -- declaration -------------------------------------------------------------------------------------
def test_declaration() -> None:
    provider = KlingProvider(env={})
    ids = ["kling-v2-6", "kling-v3", "kling-v2-5-turbo", "kling-v2-1-master", "kling-v1-6"]
    assert [m.id for m in provider.models] == ids
    assert provider.default_model == "kling-v2-6" and provider.spec("kling-v2-6").audio
    assert provider.env_vars == ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    assert not provider.configured() and provider.missing_env() == ["KLING_API_KEY"]
    assert provider.base_url == "https://api-singapore.klingai.com"
    assert not provider.supports_cancel and not provider.resubmit_is_safe
    assert all("unverified" in m.price.note for m in provider.models)
    assert all(m.durations == (5.0, 10.0) for m in provider.models if m.id != "kling-v3")
    assert provider.spec("kling-v3").durations == tuple(float(s) for s in range(3, 16))
    # Every price names where Kling publishes it and when it was checked.
    assert all(m.price_source.startswith("https://") and m.price_checked == "2026-05-29" for m in provider.models)
    # Frequent while content checks may still fail a task; then 5-10 s for 1-5 minute jobs.
    master, turbo = provider.spec("kling-v2-1-master"), provider.spec("kling-v2-5-turbo")
    assert provider.poll_interval(turbo, 0) == 3.0 and provider.poll_interval(turbo, 60) == 5.0
    assert provider.poll_interval(master, 120) == 10.0


# -- through the MCP tools ---------------------------------------------------------------------------
async def test_text_to_video_through_the_tools(ksettings: Settings, kling: Sim) -> None:
    job = await generate(ksettings, prompt="a red kite over dunes", aspect_ratio="9:16", duration=5)
    assert job["status"] == "succeeded" and job["provider"] == "kling" and job["model"] == "kling-v2-6"
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 5) < 0.2 and info.height > info.width
    task = kling.sim.jobs[job["provider_job_id"]]
    assert task.extra["endpoint"] == "text2video" and task.payload["external_task_id"] == job["job_id"]
    assert kling.sim.submissions == 1 and job["cost"] == pytest.approx(0.21)


@pytest.mark.parametrize("source", ["file", "url"])
async def test_image_to_video_through_the_tools(ksettings: Settings, kling: Sim, tmp_path: Path, source: str) -> None:
    image = picture(tmp_path / "inputs" / "start.png")
    given = str(image) if source == "file" else "https://images.example.com/start.png"
    job = await generate(ksettings, prompt="it starts to rain", images=[given], model="kling-v2-5-turbo", duration=10)
    assert job["status"] == "succeeded" and job["request"]["mode"] == "image_to_video", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 10) < 0.2 and info.width > info.height
    payload = kling.sim.jobs[job["provider_job_id"]].payload
    assert payload["image"] == (b64(image) if source == "file" else given)
    assert "aspect_ratio" not in payload  # image2video takes the image's shape


# -- the exact request bodies ------------------------------------------------------------------------
P = "a lighthouse in a storm"
BODIES = [
    (
        "kling-v2-6",
        {"resolution": "1080p", "audio": True, "duration": 10, "aspect_ratio": "9:16", "negative_prompt": "blur"},
        {"negative_prompt": "blur", "mode": "pro", "aspect_ratio": "9:16", "duration": "10", "sound": "on"},
    ),
    ("kling-v2-6", {"images": ["START"]}, {"mode": "std", "duration": "5", "sound": "off", "image": "START"}),
    ("kling-v2-5-turbo", {}, {"mode": "std", "aspect_ratio": "16:9", "duration": "5"}),
    (
        "kling-v2-5-turbo",
        {"images": ["START"], "end_image": "END", "resolution": "1080p", "duration": 10},
        {"mode": "pro", "duration": "10", "image": "START", "image_tail": "END"},
    ),
    ("kling-v2-1-master", {"aspect_ratio": "1:1"}, {"mode": "pro", "aspect_ratio": "1:1", "duration": "5"}),
    (
        "kling-v2-1-master",
        {"images": ["https://images.example.com/a.jpg"], "negative_prompt": "text"},
        {"negative_prompt": "text", "mode": "pro", "duration": "5", "image": "https://images.example.com/a.jpg"},
    ),
    ("kling-v1-6", {"duration": 10}, {"mode": "std", "aspect_ratio": "16:9", "duration": "10"}),
    # kling-v2-6 pro: start and end frame, silent (the capability map).
    (
        "kling-v2-6",
        {"images": ["START"], "end_image": "END", "resolution": "1080p"},
        {"mode": "pro", "duration": "5", "sound": "off", "image": "START", "image_tail": "END"},
    ),
    # kling-v3: any whole second from 3 to 15, sound in either mode.
    ("kling-v3", {"duration": 3}, {"mode": "std", "aspect_ratio": "16:9", "duration": "3", "sound": "off"}),
    (
        "kling-v3",
        {"duration": 12, "audio": True, "resolution": "1080p", "aspect_ratio": "1:1"},
        {"mode": "pro", "aspect_ratio": "1:1", "duration": "12", "sound": "on"},
    ),
    (
        "kling-v3",
        {"images": ["START"], "audio": True},
        {"mode": "std", "duration": "5", "sound": "on", "image": "START"},
    ),
    (
        "kling-v1-6",
        {"images": ["START"], "end_image": "END", "resolution": "1080p"},
        {"mode": "pro", "duration": "5", "image": "START", "image_tail": "END"},
    ),
]


@pytest.mark.parametrize(("model", "args", "expected"), BODIES, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(BODIES)])
async def test_request_body(ksettings: Settings, kling: Sim, tmp_path: Path, model: str, args: dict, expected: dict):
    files = {"START": picture(tmp_path / "inputs" / "s.png"), "END": picture(tmp_path / "inputs" / "e.jpg", fmt="JPEG")}
    args = {k: ([str(files.get(i, i)) for i in v] if k == "images" else v) for k, v in args.items()}
    if "end_image" in args:
        args["end_image"] = str(files[args["end_image"]])
    provider, request = resolve(ksettings, prompt=P, model=model, **args)
    submission = await provider.submit("job_body", request)
    await provider.aclose()
    task = kling.sim.jobs[submission.ref]
    wire = {k: (b64(files[v]) if v in files else v) for k, v in expected.items()}
    assert task.payload == {"model_name": model, "prompt": P, **wire, "external_task_id": "job_body"}
    assert task.extra["endpoint"] == ("image2video" if "images" in args else "text2video")
    assert submission.state == {"endpoint": task.extra["endpoint"]}


# -- prices --------------------------------------------------------------------------------------------
# Hand-computed: units per task x $0.14 (2.6/2.5 Turbo: std 1.5, pro 2.5, 2.6 pro with sound 5 per 5 s;
# 2.1 Master 10; 1.6 std 2, pro 3.5; 10 s doubles).
PRICES = [
    ("kling-v2-6", 5, "720p", False, 0.21),
    ("kling-v2-6", 10, "720p", False, 0.42),
    ("kling-v2-6", 5, "1080p", False, 0.35),
    ("kling-v2-6", 5, "1080p", True, 0.70),
    ("kling-v2-6", 10, "1080p", True, 1.40),
    ("kling-v2-5-turbo", 5, "720p", False, 0.21),
    ("kling-v2-5-turbo", 10, "1080p", False, 0.70),
    ("kling-v2-1-master", 5, "1080p", False, 1.40),
    ("kling-v2-1-master", 10, "1080p", False, 2.80),
    ("kling-v1-6", 5, "720p", False, 0.28),
    ("kling-v1-6", 10, "720p", False, 0.56),
    ("kling-v1-6", 5, "1080p", False, 0.49),
    ("kling-v1-6", 10, "1080p", False, 0.98),
    # kling-v3 per second: std 0.6 units (0.9 with sound), pro 0.8 (1.2 with sound).
    ("kling-v3", 5, "720p", False, 0.42),
    ("kling-v3", 3, "720p", True, 0.378),
    ("kling-v3", 15, "1080p", False, 1.68),
    ("kling-v3", 12, "1080p", True, 2.016),
]


@pytest.mark.parametrize(("model", "duration", "resolution", "audio", "usd"), PRICES)
async def test_estimate_cost(env: dict[str, str], model: str, duration: int, resolution: str, audio: bool, usd: float):
    settings = Settings.from_env({**env, "KLING_ACCESS_KEY": ACCESS, "KLING_SECRET_KEY": SECRET})
    args = {"prompt": "x", "provider": "kling", "model": model, "duration": duration, "resolution": resolution}
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("estimate_cost", {**args, "audio": audio})
    cost = result.structured_content
    assert cost["usd"] == pytest.approx(usd, abs=1e-9) and cost["configured"] is True
    assert "unverified" in cost["rule"]


# -- errors --------------------------------------------------------------------------------------------
ERRORS = [
    # (switches, error code, words the message must hold, Kling error codes the simulator answered)
    ({"fail_create": [1000]}, "AUTH", ["KLING_ACCESS_KEY", "code 1000"], {"1000": 1}),
    ({"fail_create": [1004, 1004]}, "AUTH", ["clock", "code 1004"], {"1004": 2}),
    ({"fail_create": [1100]}, "AUTH", ["account", "developer console"], {"1100": 1}),
    ({"fail_create": [1101]}, "OUT_OF_CREDIT", ["arrears", "settle"], {"1101": 1}),
    ({"balance": 0}, "OUT_OF_CREDIT", ["resource pack", "buy or renew"], {"1102": 1}),
    ({"fail_create": [1103]}, "AUTH", ["no permission", "code 1103"], {"1103": 1}),
    ({"fail_create": [1200]}, "INVALID_INPUT", ["parameters", "code 1200"], {"1200": 1}),
    ({"fail_create": [1201]}, "INVALID_INPUT", ["fix the request", "code 1201"], {"1201": 1}),
    ({"fail_create": [1203]}, "NOT_FOUND", ["no such task or model"], {"1203": 1}),
    ({"fail_create": [1301]}, "CONTENT_POLICY", ["content safety", "change"], {"1301": 1}),
    # Refused submits are resent by the engine, each time with the client's own retries, then fail.
    ({"fail_create": [1302] * SUBMIT_TRIES}, "RATE_LIMITED", ["rate limit", "retry"], {"1302": SUBMIT_TRIES}),
    ({"fail_create": [1303] * SUBMIT_TRIES}, "RATE_LIMITED", ["concurrency", "wait"], {"1303": SUBMIT_TRIES}),
    ({"fail_create": [5001] * SUBMIT_TRIES}, "TRANSIENT", ["maintenance", "retry later"], {"5001": SUBMIT_TRIES}),
    # A 500 to a submit may come after the task was made: looked up by our id, not sent again.
    ({"fail_create": [5000]}, "SUBMIT_UNCONFIRMED", ["not re-sent", "probably not created"], {"5000": 1, "1203": 1}),
    ({"fail_query": [1203] * 10}, "NOT_FOUND", ["no such task"], {"1203": 1}),
]


@pytest.mark.parametrize(
    ("switches", "code", "words", "answered"), ERRORS, ids=[e[1] + str(i) for i, e in enumerate(ERRORS)]
)
async def test_errors_through_the_tools(ksettings: Settings, kling: Sim, switches, code, words, answered) -> None:
    kling.sim.config.update(copy.deepcopy(switches))  # the simulator uses the lists up
    job = await generate(ksettings, prompt="a storm at sea")
    assert job["status"] == "failed" and job["error"]["code"] == code, job
    assert all(w in job["error"]["message"] for w in words), job["error"]["message"]
    assert kling.sim.stats()["errors"] == answered
    assert job["error"]["retryable"] == (code in ("RATE_LIMITED", "TRANSIENT"))


RECOVERIES = [
    ({"fail_create": [1302, 1302]}, {"1302": 2}),  # rate limited twice, then the limit clears
    ({"fail_create": [5001]}, {"5001": 1}),  # maintenance: a 503 refuses the work, so resending is safe
    ({"fail_create": [1004]}, {"1004": 1}),  # token expired: renewed and sent once more
    ({"fail_query": [5000, 5002, 1302]}, {"5000": 1, "5002": 1, "1302": 1}),  # status checks retry
]


@pytest.mark.parametrize(("switches", "answered"), RECOVERIES, ids=["1302x2", "5001", "1004", "query-5xx-1302"])
async def test_passing_errors_are_retried(ksettings: Settings, kling: Sim, switches, answered) -> None:
    kling.sim.config.update(copy.deepcopy(switches))  # the simulator uses the lists up
    job = await generate(ksettings, prompt="a storm at sea")
    assert job["status"] == "succeeded", job
    assert kling.sim.stats()["errors"] == answered and kling.sim.submissions == 1


@pytest.mark.parametrize(
    ("fail", "code", "words", "retryable"),
    [
        ("content", "CONTENT_POLICY", ["content check", "risk control"], False),
        ("internal", "PROVIDER_FAILED", ["internal error", "may work"], True),
    ],
)
async def test_failed_tasks(ksettings: Settings, kling: Sim, fail: str, code: str, words: list[str], retryable: bool):
    job = await generate(ksettings, prompt=f"a storm at sea sim:fail={fail}")
    assert job["status"] == "failed" and job["error"]["code"] == code, job
    assert all(w in job["error"]["message"] for w in words) and job["error"]["retryable"] is retryable


@pytest.mark.parametrize(
    ("access", "secret", "code"),
    [(ACCESS, "a-wrong-secret-key-of-decent-length-000", "1002"), ("an-unknown-access-key-0000000000", SECRET, "1000")],
)
async def test_bad_keys(kenv: dict[str, str], kling: Sim, access: str, secret: str, code: str) -> None:
    settings = Settings.from_env({**kenv, "KLING_ACCESS_KEY": access, "KLING_SECRET_KEY": secret})
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x"})
    job = result.structured_content
    assert job["status"] == "failed" and job["error"]["code"] == "AUTH"
    assert "KLING_SECRET_KEY" in job["error"]["message"] and f"code {code}" in job["error"]["message"]
    blob = json.dumps(job) + result.content[0].text
    assert access not in blob and secret not in blob
    assert kling.sim.submissions == 0


async def test_inputs_kling_cannot_take_are_refused_before_sending(ksettings: Settings, kling: Sim, tmp_path: Path):
    inputs = tmp_path / "inputs"
    cases = [
        ({"images": [str(picture(inputs / "small.png", (299, 400)))]}, "299x400 px"),
        ({"images": [str(picture(inputs / "wide.png", (1000, 399)))]}, "aspect ratio between 1:2.5"),
        ({"images": [str(picture(inputs / "a.webp", (400, 400), "WEBP"))]}, "image/webp"),
    ]
    for args, words in cases:
        provider, request = resolve(ksettings, prompt="x", **args)
        with pytest.raises(InvalidRequest, match=re.escape(words)):
            await provider.submit("job_x", request)
    # What only pro mode offers is refused when the request is validated, before a job exists.
    pro_only = [
        ({"audio": True}, "sound (audio=true) only at 1080p"),
        ({"model": "kling-v1-6", "images": [str(inputs / "a.webp")], "end_image": "https://x.example/e.png"}, "1080p"),
    ]
    for args, words in pro_only:
        with pytest.raises(InvalidRequest, match=re.escape(words)):
            resolve(ksettings, prompt="x", **args)
        async with Client(build_server(ksettings)) as client:
            cost = await client.call_tool("estimate_cost", {"prompt": "x", "provider": "kling", **args})
        assert cost.is_error and words in cost.content[0].text
    # Through the tools: the job fails with the reason, and nothing reaches Kling.
    job = await generate(ksettings, prompt="x", images=[str(inputs / "small.png")])
    assert job["status"] == "failed" and job["error"]["code"] == "INVALID_INPUT" and "300 px" in job["error"]["message"]
    assert kling.sim.submissions == 0


async def test_the_simulator_validates_like_kling(ksettings: Settings, kling: Sim, tmp_path: Path) -> None:
    provider, request = resolve(ksettings, prompt="x")
    await provider.submit("job_twice", request)
    with pytest.raises(ProviderError) as caught:  # external_task_id is unique per account
        await provider.submit("job_twice", request)
    assert caught.value.code is ErrorCode.INVALID_INPUT and "already exists" in caught.value.message
    headers = {"Authorization": f"Bearer {provider.token()}"}
    bad = [
        ("text2video", {"prompt": "x", "duration": 5}, "duration must be the string"),
        ("text2video", {"prompt": "x", "model_name": "kling-v2-6", "sound": "on"}, "only supported in pro mode"),
        ("text2video", {"prompt": "x", "model_name": "kling-v9"}, "model_name"),
        ("text2video", {"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
        ("image2video", {"image": "data:image/png;base64," + b64(picture(tmp_path / "p.png"))}, "data:"),
        ("image2video", {"image": b64(picture(tmp_path / "q.png", (200, 200)))}, "300px"),
        ("image2video", {"prompt": "x"}, "image or image_tail is required"),
    ]
    async with httpx.AsyncClient(base_url=kling.url, headers=headers) as client:
        for endpoint, body, words in bad:
            response = await client.post(f"/v1/videos/{endpoint}", json=body)
            answer = response.json()
            assert response.status_code == 400 and answer["code"] == 1201 and words in answer["message"], answer
    await provider.aclose()
    assert kling.sim.submissions == 1


# -- cancel, restarts, lost replies ------------------------------------------------------------------
async def test_cancel_is_local_because_kling_cannot(ksettings: Settings, kling: Sim) -> None:
    async with Client(build_server(ksettings)) as client:
        started = await client.call_tool("generate_video", {"prompt": "slow sim:seconds=2000", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]

        async def submitted() -> bool:  # cancel once Kling has the task
            return bool(
                (await client.call_tool("get_status", {"job_id": job_id})).structured_content["provider_job_id"]
            )

        await until(submitted)
        cancelled = (await client.call_tool("cancel_job", {"job_id": job_id})).structured_content
    assert cancelled["status"] == "cancelled" and "cannot cancel" in cancelled["message"]
    assert "charged" in cancelled["message"]
    task = kling.sim.jobs[cancelled["provider_job_id"]]
    assert task.phase()[0] in ("queued", "running") and kling.sim.submissions == 1


async def test_a_restart_mid_job_resumes_without_resubmitting(ksettings: Settings, kling: Sim) -> None:
    async with JobManager(ksettings) as m:
        row = await m.submit(RequestArgs(prompt="long take sim:seconds=400", provider="kling"))
        await until(lambda: m.get(row.job_id).status == "running")
    async with JobManager(ksettings) as m:
        done = await m.wait(row.job_id, 20)
    assert done.status == "succeeded" and done.video is not None, done
    assert kling.sim.submissions == 1


async def test_a_crash_during_submit_is_reconciled_by_external_task_id(ksettings: Settings, kling: Sim) -> None:
    kling.sim.config["hang_seconds"] = 1.0  # the task is made, the reply is slow: we "crash" meanwhile
    async with JobManager(ksettings) as m:
        row = await m.submit(RequestArgs(prompt="a crash", provider="kling"))
        await until(lambda: kling.sim.submissions == 1)
    stopped = JobManager(ksettings, resume=False)
    async with stopped:
        pending = stopped.get(row.job_id)
    assert pending.status == "pending" and pending.submit_started_at is not None and pending.provider_ref is None
    async with JobManager(ksettings) as m:
        done = await m.wait(row.job_id, 20)
    assert done.status == "succeeded" and kling.sim.submissions == 1
    assert kling.sim.jobs[done.provider_ref].extra["external_task_id"] == row.job_id


async def test_a_lost_submit_reply_is_found_instead_of_paid_twice(ksettings: Settings, kling: Sim) -> None:
    kling.sim.config["drop_response"] = True  # the task is made, then the connection drops mid-reply
    job = await generate(ksettings, prompt="lost reply")
    assert job["status"] == "succeeded" and kling.sim.submissions == 1
    assert kling.sim.jobs[job["provider_job_id"]].extra["external_task_id"] == job["job_id"]


async def test_reconcile(ksettings: Settings, kling: Sim) -> None:
    provider, request = resolve(ksettings, prompt="x")
    made = await provider.submit("job_known", request)
    found = await provider.reconcile("job_known", request)
    assert found is not None and found.ref == made.ref
    assert await provider.reconcile("job_unknown", request) is None
    await provider.aclose()


# -- the token ------------------------------------------------------------------------------------------
async def test_the_jwt_is_cached_and_renewed_before_it_expires(ksettings: Settings, kling: Sim) -> None:
    provider, request = resolve(ksettings, prompt="x")
    first = provider.token()
    assert provider.token() == first and first in provider.secrets()
    assert jwt.get_unverified_header(first) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(first, SECRET, algorithms=["HS256"])
    assert claims["iss"] == ACCESS and claims["exp"] - claims["nbf"] == 1805
    provider._token_expires = time.time() + 120  # under five minutes left: renewed now, not at expiry
    renewed = provider.token()
    assert provider._token_expires > time.time() + 1700 and jwt.decode(renewed, SECRET, algorithms=["HS256"])
    # A token the server calls expired (clock skew) is dropped and the call repeated once.
    now = int(time.time())
    provider._token = jwt.encode({"iss": ACCESS, "exp": now - 10, "nbf": now - 2000}, SECRET, algorithm="HS256")
    provider._token_expires = now + 1500.0
    assert (await provider.submit("job_stale", request)).ref
    assert kling.sim.stats()["errors"] == {"1004": 1} and kling.sim.submissions == 1
    await provider.aclose()


# -- the docs' own client --------------------------------------------------------------------------------
def encode_jwt_token(ak: str, sk: str) -> str:
    """As in Kling's API docs (Python sample), unchanged."""
    headers = {"alg": "HS256", "typ": "JWT"}
    payload = {"iss": ak, "exp": int(time.time()) + 1800, "nbf": int(time.time()) - 5}
    return jwt.encode(payload, sk, headers=headers)


def test_the_docs_example_client_talks_to_the_simulator(kling: Sim) -> None:
    token = encode_jwt_token(ACCESS, SECRET)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=kling.url, headers=headers) as client:  # the docs' curl calls, with httpx
        body = {"model_name": "kling-v1-6", "prompt": "a cat", "mode": "std", "duration": "5", "cfg_scale": 0.5}
        created = client.post("/v1/videos/text2video", json=body).json()
        assert created["code"] == 0 and created["data"]["task_status"] == "submitted"
        task_id = created["data"]["task_id"]
        deadline = time.monotonic() + 10
        while (data := client.get(f"/v1/videos/text2video/{task_id}").json()["data"])["task_status"] != "succeed":
            assert data["task_status"] in ("submitted", "processing") and time.monotonic() < deadline
            time.sleep(0.05)
        video = data["task_result"]["videos"][0]
        assert video["duration"] == "5"
        mp4 = client.get(video["url"])
        listed = client.get("/v1/videos/text2video", params={"pageNum": 1, "pageSize": 30}).json()["data"]
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4" and mp4.content[4:8] == b"ftyp"
    assert [t["task_id"] for t in listed] == [task_id]


# -- the single API key (new accounts) besides the access/secret pair ----------------------------------
API_KEY = DEFAULT_API_KEY


def test_either_credential_configures_kling_and_both_are_redacted() -> None:
    assert KlingProvider(env={"KLING_API_KEY": API_KEY}).configured()
    assert KlingProvider(env={"KLING_ACCESS_KEY": ACCESS, "KLING_SECRET_KEY": SECRET}).configured()
    half = KlingProvider(env={"KLING_ACCESS_KEY": ACCESS})
    assert not half.configured() and half.missing_env() == ["KLING_SECRET_KEY"]
    assert KlingProvider(env={"KLING_API_KEY": " "}).missing_env() == ["KLING_API_KEY"]
    both = KlingProvider(env={"KLING_API_KEY": API_KEY, "KLING_ACCESS_KEY": ACCESS, "KLING_SECRET_KEY": SECRET})
    assert set(both.secrets()) == {API_KEY, ACCESS, SECRET}
    assert both.authorization() == f"Bearer {API_KEY}"  # with both, the API key is used
    with pytest.raises(ProviderError) as caught:
        KlingProvider(env={}).authorization()
    assert caught.value.code is ErrorCode.NOT_CONFIGURED and "KLING_API_KEY" in caught.value.message


async def test_an_api_key_alone_generates_a_video(env: dict[str, str], kling: Sim) -> None:
    kling.sim.config["keys"] = {}  # no access/secret pair works: only the API key can pass
    settings = Settings.from_env(
        {**env, "VIDEOGEN_KLING_BASE_URL": kling.url, "KLING_API_KEY": API_KEY, "VIDEOGEN_POLL_SCALE": "0.01"}
    )
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "a paper boat", "provider": "kling"})
        listed = (await client.call_tool("list_models", {"model": "kling/kling-v2-6"})).structured_content
    job = result.structured_content
    assert job["status"] == "succeeded" and kling.sim.submissions == 1, job
    assert listed["models"][0]["configured"] and listed["models"][0]["missing_env"] == []
    blob = json.dumps(job) + result.content[0].text
    assert API_KEY not in blob
    assert all(API_KEY.encode() not in f.read_bytes() for f in settings.data_dir.rglob("*") if f.is_file())


async def test_a_rejected_api_key_names_it_and_is_not_shown(env: dict[str, str], kling: Sim) -> None:
    wrong = "kling-api-key-that-was-revoked-0000"
    settings = Settings.from_env({**env, "VIDEOGEN_KLING_BASE_URL": kling.url, "KLING_API_KEY": wrong})
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("generate_video", {"prompt": "x", "provider": "kling"})
    job = result.structured_content
    assert job["status"] == "failed" and job["error"]["code"] == "AUTH" and "KLING_API_KEY" in job["error"]["message"]
    assert wrong not in json.dumps(job) + result.content[0].text and kling.sim.submissions == 0


# -- capabilities the capability map gives, and refuses ------------------------------------------------
async def test_kling_v2_6_end_frame_is_silent_and_pro_only(ksettings: Settings, kling: Sim, tmp_path: Path) -> None:
    start, end = picture(tmp_path / "inputs" / "s.png"), picture(tmp_path / "inputs" / "e.png")
    frames = {"model": "kling-v2-6", "images": [str(start)], "end_image": str(end)}
    for extra, words in [({"resolution": "1080p", "audio": True}, "silent video"), ({}, "only at 1080p")]:
        with pytest.raises(InvalidRequest, match=words):
            resolve(ksettings, prompt="x", **frames, **extra)
    job = await generate(ksettings, prompt="from dawn to dusk", resolution="1080p", **frames)
    assert job["status"] == "succeeded", job
    payload = kling.sim.jobs[job["provider_job_id"]].payload
    assert payload["image_tail"] == b64(end) and payload["sound"] == "off" and payload["mode"] == "pro"


async def test_kling_v3_takes_any_second_from_3_to_15_and_records_the_units_charged(ksettings: Settings, kling: Sim):
    job = await generate(ksettings, prompt="a slow dolly in", model="kling-v3", duration=7, wait_seconds=30)
    assert job["status"] == "succeeded", job
    assert abs(probe(job["video"]["path"]).duration_seconds - 7) < 0.2
    # final_unit_deduction: 7 s x 0.6 units x $0.14, the charge rather than the estimate.
    assert job["cost"] == pytest.approx(7 * 0.6 * 0.14) and job["cost_is_estimate"] is False
    async with Client(build_server(ksettings)) as client:
        refused = await client.call_tool("estimate_cost", {"prompt": "x", "provider": "kling", "model": "kling-v3",
                                                           "duration": 16})  # fmt: skip
    assert refused.is_error and "3, 4, 5" in refused.content[0].text


CAMERA_ANSWERS = [  # (endpoint, body, accepted); the capability map's only two camera-control cells
    ("text2video", {"model_name": "kling-v1", "mode": "std", "duration": "5", "camera_control": {"type": "forward_up"}},
     True),
    ("text2video", {"model_name": "kling-v1", "mode": "std", "duration": "5",
                    "camera_control": {"type": "simple", "config": {"zoom": 5}}}, True),
    ("image2video", {"model_name": "kling-v1-5", "mode": "pro", "duration": "5", "image": "https://e.com/a.png",
                     "camera_control": {"type": "simple", "config": {"horizontal": 3}}}, True),
    ("image2video", {"model_name": "kling-v1-5", "mode": "pro", "duration": "5", "image": "https://e.com/a.png",
                     "camera_control": {"type": "down_back"}}, False),
    ("text2video", {"model_name": "kling-v1", "mode": "pro", "duration": "5", "camera_control": {"type": "down_back"}},
     False),
    ("text2video", {"model_name": "kling-v2-6", "camera_control": {"type": "down_back"}}, False),
    ("text2video", {"model_name": "kling-v2-5-turbo", "camera_control": {"type": "simple", "config": {"pan": 2}}},
     False),
    ("text2video", {"model_name": "kling-v1-6", "camera_control": {"type": "forward_up"}}, False),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "accepted"), CAMERA_ANSWERS)
async def test_the_simulator_takes_camera_control_only_where_kling_offers_it(kling: Sim, endpoint, body, accepted):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=kling.url, headers=headers) as client:
        answer = await client.post(f"/v1/videos/{endpoint}", json={"prompt": "a quiet street", **body})
    if accepted:
        assert answer.status_code == 200 and answer.json()["code"] == 0, answer.text
    else:
        assert answer.status_code == 400 and answer.json()["code"] == 1201, answer.text
        assert "camera_control" in answer.json()["message"]


SIM_TAILS_AND_DURATIONS = [  # (endpoint, body, accepted)
    ("image2video", {"model_name": "kling-v2-6", "mode": "pro", "image": "https://e.com/a.png",
                     "image_tail": "https://e.com/b.png", "sound": "off"}, True),
    ("image2video", {"model_name": "kling-v2-6", "mode": "pro", "image": "https://e.com/a.png",
                     "image_tail": "https://e.com/b.png", "sound": "on"}, False),
    ("image2video", {"model_name": "kling-v2-6", "mode": "std", "image": "https://e.com/a.png",
                     "image_tail": "https://e.com/b.png"}, False),
    ("text2video", {"model_name": "kling-v3", "duration": "12", "sound": "on"}, True),
    ("text2video", {"model_name": "kling-v3", "duration": "16"}, False),
    ("text2video", {"model_name": "kling-v2-6", "duration": "12"}, False),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "accepted"), SIM_TAILS_AND_DURATIONS)
async def test_the_simulator_checks_end_frames_sound_and_durations(kling: Sim, endpoint, body, accepted):
    token = encode_jwt_token(ACCESS, SECRET)  # the pair still works for these models (all <= 3.0)
    async with httpx.AsyncClient(base_url=kling.url, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = await client.post(f"/v1/videos/{endpoint}", json={"prompt": "a quiet street", **body})
    assert (answer.status_code, answer.json()["code"]) == ((200, 0) if accepted else (400, 1201)), answer.text


# -- Kling's answers, read through typed wire models ------------------------------------------------------
def test_task_answers_of_odd_shapes_take_the_documented_error_paths() -> None:
    from providers.kling import KlingEnvelope, task_snapshot

    done = {"task_id": 1, "task_status": "succeed", "task_result": {"videos": [{"url": "https://v/x.mp4"}]}}
    assert task_snapshot({**done, "final_unit_deduction": "2.5"}).charged_usd == pytest.approx(0.35)
    assert task_snapshot({**done, "final_unit_deduction": "lots"}).charged_usd is None
    assert task_snapshot(done).charged_usd is None
    no_video = task_snapshot({"task_status": "succeed", "task_result": {"videos": ["x", 3]}})
    assert no_video.status == "failed" and no_video.error.code is ErrorCode.PROVIDER_FAILED
    assert task_snapshot({"task_status": ["odd"]}).status == "running"
    failed = task_snapshot({"task_status": "failed", "task_status_msg": 42})
    assert failed.status == "failed" and "42" in failed.message
    assert KlingEnvelope.model_validate({"code": "1201", "data": []}).code is None  # not Kling's envelope
