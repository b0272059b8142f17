"""The Google adapter (Gemini Omni through the Interactions API, Veo through predictLongRunning) against its
simulator over loopback: the tools end to end, the wire body checked with the official SDK's own types, each
error mapping, cancel, callbacks, prices, the video fetched with the key only from the API's own host."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from providers.base import ErrorCode, ProviderError, Submission
from providers.google import (
    MODELS,
    OMNI_MODELS,
    VEO_MODELS,
    GoogleProvider,
    Operation,
    error_for,
    snapshot,
    veo_snapshot,
)
from providers.registry import Providers
from providers.simulators.common import Simulator, running
from providers.simulators.google import DEFAULT_KEY, create_app
from server.app import build_server
from server.catalog import Catalog, RequestArgs
from server.jobs import JobManager
from server.media import probe
from server.settings import Settings

pytestmark = pytest.mark.anyio
SPEED = 300.0  # a simulated minute in 0.2 s
QUICK = "sim:seconds=20 sim:queue=1"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/google", app=app)])) as url:
        yield f"{url}/google", app.state.sim


@pytest.fixture
def sim(server: tuple[str, Simulator]) -> Simulator:
    simulator = server[1]
    with simulator.lock:
        simulator.jobs.clear()
        simulator.config.clear()
        simulator.polls.clear()
        simulator.downloads.clear()
        simulator.submissions = 0
    return simulator


@pytest.fixture
def g_env(env: dict[str, str], server: tuple[str, Simulator], sim: Simulator) -> dict[str, str]:
    return {
        **env,
        "VIDEOGEN_GOOGLE_BASE_URL": server[0],
        "GEMINI_API_KEY": DEFAULT_KEY,
        "VIDEOGEN_POLL_SCALE": "0.01",
        "VIDEOGEN_RETRY_SCALE": "0.01",
        "VIDEOGEN_DEFAULT_PROVIDER": "google",
    }


@pytest.fixture
def picture(env: dict[str, str]) -> Path:
    from PIL import Image

    path = Path(env["VIDEOGEN_ALLOWED_DIRS"].split(":")[0]) / "start.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (128, 72), (30, 120, 200)).save(path)
    return path


async def generate(env: dict[str, str], **args: Any) -> dict[str, Any]:
    async with Client(build_server(Settings.from_env(env))) as client:
        result = await client.call_tool("generate_video", {"wait_seconds": 20, **args})
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert DEFAULT_KEY not in text and DEFAULT_KEY not in str(result.structured_content)
    return result.structured_content


def request_for(env: dict[str, str], **args: Any) -> Any:
    settings = Settings.from_env(env)
    catalog = Catalog(Providers(env), settings.allowed_dirs)
    return catalog.resolve(RequestArgs(provider="google", **args))[2]


# -- making videos ------------------------------------------------------------------------------------------


async def test_text_to_video_through_the_tools_downloads_the_uri_with_the_key(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"a lighthouse {QUICK}", duration=4, aspect_ratio="9:16")
    assert job["status"] == "succeeded", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 4) < 0.2 and info.height > info.width
    (sim_job,) = sim.jobs.values()
    assert sim_job.payload["response_format"]["delivery"] == "uri"
    assert sim.downloads[sim_job.id] == 1  # through /files/{name}:download, which answers only with the key
    assert job["cost"] == pytest.approx(4 * 0.07)


async def test_image_to_video_sends_the_local_image_inline(g_env, sim: Simulator, picture: Path):
    job = await generate(g_env, prompt=f"the water ripples {QUICK}", images=[str(picture)], resolution="1080p")
    assert job["status"] == "succeeded", job
    (sim_job,) = sim.jobs.values()
    (step,) = sim_job.payload["input"]
    assert step["type"] == "user_input"
    text, image = step["content"]
    assert text == {"type": "text", "text": f"the water ripples {QUICK}"}
    assert image["mime_type"] == "image/png" and base64.b64decode(image["data"]) == picture.read_bytes()
    assert sim_job.payload["generation_config"] == {"video_config": {"task": "image_to_video"}}


async def test_inline_video_data_is_decoded_when_google_sends_no_uri(g_env, server, sim: Simulator, tmp_path: Path):
    async with httpx.AsyncClient() as client:
        created = await client.post(
            f"{server[0]}/v1/interactions",
            headers={"x-goog-api-key": DEFAULT_KEY},
            json={"model": "gemini-omni-1.1-flash", "input": f"x {QUICK}", "background": True},  # inline default
        )
    provider = GoogleProvider(g_env)
    submission = Submission(ref=created.json()["id"])
    request = request_for(g_env, prompt="x", model="gemini-omni-1.1-flash")
    for _ in range(200):
        shot = await provider.poll(submission, request)
        if shot.status == "succeeded":
            break
        await anyio.sleep(0.02)
    assert shot.status == "succeeded" and shot.video_url is None  # the engine then calls fetch
    dest = tmp_path / "inline.mp4"
    await provider.fetch(shot, submission, request, dest)
    assert abs(probe(str(dest)).duration_seconds - 8) < 0.2
    await provider.aclose()


async def test_the_body_is_what_the_official_sdk_types_accept(g_env, picture: Path):
    from google.genai._gaos.types.interactions import CreateModelInteraction

    provider = GoogleProvider(g_env, Settings.from_env(g_env).allowed_dirs)
    body = provider.body(request_for(g_env, prompt="p", images=[str(picture)], duration=12, resolution="4k"))
    typed = CreateModelInteraction.model_validate(body)  # the SDK's request model
    assert typed.model == "gemini-omni-1.2-flash" and typed.background is True
    assert body["response_format"] == {
        "type": "video",
        "aspect_ratio": "16:9",
        "resolution": "4k",
        "duration": "12s",
        "delivery": "uri",
    }
    url_body = provider.body(request_for(g_env, prompt="p", images=["https://example.com/a.png"]))
    assert url_body["input"][0]["content"][1] == {"type": "image", "uri": "https://example.com/a.png"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"model": "gemini-omni-1.1-flash", "duration": 12}, ("duration",)),
        ({"model": "gemini-omni-flash-preview", "resolution": "1080p"}, ("resolution",)),
        ({"aspect_ratio": "1:1"}, ("aspect",)),
        ({"audio": False}, ("always", "sound")),
        ({"images": ["http://example.com/a.png"]}, ("https",)),
    ],
)
async def test_refused_before_a_job_exists(g_env, sim: Simulator, args, words):
    async with Client(build_server(Settings.from_env(g_env))) as client:
        result = await client.call_tool("generate_video", {"prompt": "P", "provider": "google", **args})
    text = " ".join(getattr(c, "text", "") for c in result.content).lower()
    assert result.is_error and all(w in text for w in words), text
    assert sim.submissions == 0


@pytest.mark.parametrize(
    ("model", "resolution", "usd"),
    [
        ("gemini-omni-1.2-flash", "720p", 8 * 0.07),
        ("gemini-omni-1.2-flash", "4k", 8 * 0.07 * 3),
        ("gemini-omni-1.2-flash", "360p", 8 * 0.07 * 0.34),
        ("gemini-omni-1.1-flash", "1080p", 8 * 0.1014 * 1.5),
        ("gemini-omni-flash-preview", "720p", 8 * 0.1014),
    ],
)
async def test_estimate_cost(g_env, sim: Simulator, model, resolution, usd):
    async with Client(build_server(Settings.from_env(g_env))) as client:
        result = await client.call_tool(
            "estimate_cost", {"prompt": "p", "provider": "google", "model": model, "resolution": resolution}
        )
    assert result.structured_content["usd"] == pytest.approx(usd, abs=1e-4)
    assert sim.submissions == 0


def test_every_model_is_priced_with_a_source_and_one_short_line():
    for spec in MODELS:
        assert spec.priced and spec.price_source.startswith("https://") and spec.price_checked == "2026-12-03"
        assert len(spec.description) <= 130 and "\n" not in spec.description
    for spec in OMNI_MODELS:
        assert "third-party" in spec.description and "third-party" in spec.price.note
    for spec in VEO_MODELS:  # Google's own page; where only a copy of it was read, the note says so
        assert spec.price_source == "https://ai.google.dev/gemini-api/docs/pricing"
        assert "Google's list price" in spec.price.note and not spec.seed


# -- credentials ------------------------------------------------------------------------------------------------


def test_either_variable_configures_it_and_both_are_secrets():
    assert not GoogleProvider({}).configured() and GoogleProvider({}).missing_env() == ["GEMINI_API_KEY"]
    assert GoogleProvider({"GOOGLE_API_KEY": "AIza-g"}).configured()
    both = GoogleProvider({"GEMINI_API_KEY": "AIza-gemini", "GOOGLE_API_KEY": "AIza-google"})
    assert both.api_key() == "AIza-google"  # the SDK's order: GOOGLE_API_KEY wins
    assert set(both.secrets()) == {"AIza-gemini", "AIza-google"}


async def test_no_key_is_not_configured(g_env, sim: Simulator):
    env = {k: v for k, v in g_env.items() if k != "GEMINI_API_KEY"}
    async with Client(build_server(Settings.from_env(env))) as client:
        result = await client.call_tool("generate_video", {"prompt": "p", "provider": "google"})
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert result.is_error and "GEMINI_API_KEY" in text and sim.submissions == 0


# -- errors, each as Google answers it --------------------------------------------------------------------------


async def test_a_key_google_does_not_know_is_auth(g_env, sim: Simulator):
    job = await generate({**g_env, "GEMINI_API_KEY": "AIzaSyWrongKey" + "0" * 25}, prompt=f"p {QUICK}")
    assert job["status"] == "failed" and job["error"]["code"] == "AUTH"
    assert "GEMINI_API_KEY" in job["error"]["message"] and "API key not valid" in job["error"]["message"]
    assert "AIzaSyWrongKey" not in job["error"]["message"] and sim.submissions == 0


async def test_depleted_credits_are_out_of_credit(g_env, sim: Simulator):
    sim.config["credits_usd"] = 0.10
    job = await generate(g_env, prompt=f"p {QUICK}")
    assert job["error"]["code"] == "OUT_OF_CREDIT" and "billing" in job["error"]["message"]
    assert job["error"]["retryable"] is False and sim.submissions == 0


async def test_rate_limit_is_retried_then_fails_and_succeeds_once_it_clears(g_env, sim: Simulator):
    sim.config["errors"] = [429] * 1000
    job = await generate(g_env, prompt=f"p {QUICK}")
    assert job["error"]["code"] == "RATE_LIMITED" and job["error"]["retryable"] is True
    assert "try again" in job["error"]["message"] and sim.submissions == 0
    sim.config["errors"] = [429, 429]
    assert (await generate(g_env, prompt=f"p {QUICK}"))["status"] == "succeeded" and sim.submissions == 1


async def test_safety_block_is_content_policy(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"p sim:fail=content {QUICK}")
    assert job["error"]["code"] == "CONTENT_POLICY" and "change the prompt" in job["error"]["message"].lower()
    assert "safety policies" in job["error"]["message"]  # the model's own words, carried through


async def test_a_prompt_refused_at_submit_is_content_policy_and_nothing_is_made(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"p sim:fail=blocked {QUICK}")
    assert job["error"]["code"] == "CONTENT_POLICY" and "safety" in job["error"]["message"]
    assert sim.submissions == 0


async def test_an_image_google_cannot_process_is_invalid_input(g_env, sim: Simulator, picture: Path):
    job = await generate(g_env, prompt=f"p sim:fail=image {QUICK}", images=[str(picture)])
    assert job["error"]["code"] == "INVALID_INPUT" and "input image" in job["error"]["message"]


async def test_internal_failure_is_retryable_provider_failed(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"p sim:fail=internal {QUICK}")
    assert job["error"]["code"] == "PROVIDER_FAILED" and job["error"]["retryable"] is True


async def test_overload_on_submit_is_transient_and_a_500_is_not_resent(g_env, sim: Simulator):
    sim.config["errors"] = [503] * 1000
    job = await generate(g_env, prompt=f"p {QUICK}")
    assert job["error"]["code"] == "TRANSIENT" and "try again" in job["error"]["message"]
    sim.config["errors"] = [500]
    job = await generate(g_env, prompt=f"p {QUICK}")
    assert job["error"]["code"] == "SUBMIT_UNCONFIRMED" and sim.submissions == 0


@pytest.mark.parametrize(
    ("status", "body", "ours"),
    [
        (400, {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}, ErrorCode.AUTH),
        (403, {"code": 403, "message": "Permission denied.", "status": "PERMISSION_DENIED"}, ErrorCode.AUTH),
        (400, {"code": 400, "message": "Bad duration.", "status": "INVALID_ARGUMENT"}, ErrorCode.INVALID_INPUT),
        (
            400,
            {"code": 400, "message": "Billing is not enabled for this project.", "status": "FAILED_PRECONDITION"},
            ErrorCode.OUT_OF_CREDIT,
        ),
        # Google's real quota message names "billing details": still a rate limit, not an empty wallet.
        (
            429,
            {
                "code": 429,
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "status": "RESOURCE_EXHAUSTED",
            },
            ErrorCode.RATE_LIMITED,
        ),
        (404, {"code": 404, "message": "Interaction not found.", "status": "NOT_FOUND"}, ErrorCode.NOT_FOUND),
        # The Interactions endpoints' own shape: a string code, no status.
        (400, {"code": "invalid_request", "message": "Invalid interaction name."}, ErrorCode.NOT_FOUND),
        (400, {"code": "invalid_request", "message": 'Unknown name "seed".'}, ErrorCode.INVALID_INPUT),
        (
            400,
            {"code": "invalid_request", "message": "The prompt was blocked for safety reasons."},
            ErrorCode.CONTENT_POLICY,
        ),
        # Naming a field called safety_settings is not a refusal.
        (400, {"code": "invalid_request", "message": "Invalid safety_settings value."}, ErrorCode.INVALID_INPUT),
        (503, {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}, ErrorCode.TRANSIENT),
        # predictLongRunning on a model Google does not serve (any more): the request, not a lost job.
        (
            404,
            {
                "code": 404,
                "message": "models/veo-9 is not found for API version v1beta, or is not supported for "
                "predictLongRunning.",
                "status": "NOT_FOUND",
            },
            ErrorCode.INVALID_INPUT,
        ),
        (
            404,
            {"code": 404, "message": "Operation models/x/operations/y not found.", "status": "NOT_FOUND"},
            ErrorCode.NOT_FOUND,
        ),
    ],
)
def test_error_mapping(status: int, body: dict[str, Any], ours: ErrorCode):
    for wire in ({"error": body}, [{"error": body}]):  # the front end sometimes wraps it in a list
        error = error_for(httpx.Response(status, json=wire))
        assert error is not None and error.code == ours and body["message"].rstrip(".") in error.message


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"status": "queued"}, "queued", None),
        ({"status": "in_progress"}, "running", None),
        ({"status": "idle"}, "running", None),
        ({"status": "a_new_one"}, "running", None),
        ({"status": "cancelled"}, "cancelled", None),
        ({"status": "completed"}, "failed", ErrorCode.CONTENT_POLICY),  # no video, no video tokens: a refusal
        (
            {"status": "completed", "usage": {"output_tokens_by_modality": [{"modality": "VIDEO", "tokens": 5792}]}},
            "failed",
            ErrorCode.PROVIDER_FAILED,  # made and billed, but not where we read it
        ),
        ({"status": "failed", "finish_reason": "IMAGE_SAFETY"}, "failed", ErrorCode.CONTENT_POLICY),
        ({"status": "failed", "error": {"code": "internal", "message": "boom"}}, "failed", ErrorCode.PROVIDER_FAILED),
        (
            {"status": "failed", "errors": [{"message": "Blocked by safety filters"}]},
            "failed",
            ErrorCode.CONTENT_POLICY,
        ),
        (
            {"status": "failed", "steps": [{"type": "model_output", "error": {"code": 13, "message": "x"}}]},
            "failed",
            ErrorCode.PROVIDER_FAILED,
        ),
        ({"status": "budget_exceeded"}, "failed", ErrorCode.OUT_OF_CREDIT),
        ({"status": "incomplete"}, "failed", ErrorCode.PROVIDER_FAILED),
        ({"status": "requires_action"}, "failed", ErrorCode.PROVIDER_FAILED),
    ],
)
def test_statuses(body: dict[str, Any], status: str, code: ErrorCode | None):
    shot = snapshot({"id": "v1_x", **body})
    assert shot.status == status and (shot.error.code if shot.error else None) == code


def test_a_completed_interaction_with_a_video_succeeds():
    video = {"type": "video", "mime_type": "video/mp4", "uri": "https://generativelanguage.googleapis.com/v1/files/a"}
    shot = snapshot({"status": "completed", "steps": [{"type": "model_output", "content": [{"type": "text"}, video]}]})
    assert shot.status == "succeeded" and shot.video_url is None


async def test_status_check_of_an_unknown_interaction_is_not_found(g_env, sim: Simulator):
    provider = GoogleProvider(g_env)
    with pytest.raises(ProviderError) as raised:
        await provider.poll(Submission(ref="v1_gone"), request_for(g_env, prompt="p"))
    assert raised.value.code == ErrorCode.NOT_FOUND
    await provider.aclose()


# -- cancel, restart, callbacks -------------------------------------------------------------------------------


async def test_cancel_cancels_the_interaction(g_env, sim: Simulator):
    async with Client(build_server(Settings.from_env(g_env))) as client:
        started = await client.call_tool("generate_video", {"prompt": "never mind sim:queue=600", "wait_seconds": 0})
        job_id = started.structured_content["job_id"]
        for _ in range(200):
            status = await client.call_tool("get_status", {"job_id": job_id})
            if status.structured_content.get("provider_job_id"):
                break
        done = await client.call_tool("cancel_job", {"job_id": job_id})
    (sim_job,) = sim.jobs.values()
    assert sim_job.cancelled and done.structured_content["status"] == "cancelled"


async def test_cancel_of_a_finished_interaction_is_refused_by_google(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"p {QUICK}")
    provider = GoogleProvider(g_env)
    with pytest.raises(ProviderError) as raised:
        await provider.cancel(Submission(ref=job["provider_job_id"]), request_for(g_env, prompt="p"))
    assert raised.value.code == ErrorCode.INVALID_INPUT and "cannot be cancelled" in raised.value.message
    await provider.aclose()


async def test_restart_mid_job_submits_once(g_env, sim: Simulator):
    args = RequestArgs(prompt="a slow pan sim:seconds=200 sim:queue=1", provider="google")
    async with JobManager(Settings.from_env(g_env)) as first:
        row = await first.submit(args)
        for _ in range(500):
            if first.get(row.job_id).status == "running":
                break
            await anyio.sleep(0.01)
    async with JobManager(Settings.from_env(g_env)) as second:
        done = await second.wait(row.job_id, 30)
    assert done.status == "succeeded" and sim.submissions == 1


async def test_webhook_config_gets_the_callback(g_env, sim: Simulator):
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return JSONResponse({})

    provider = GoogleProvider(g_env)
    with running(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as hook_url:
        submission = await provider.submit(
            "job-123", request_for(g_env, prompt=f"p {QUICK}"), callback_url=f"{hook_url}/hook?token=t"
        )
        (sim_job,) = sim.jobs.values()
        assert sim_job.payload["webhook_config"] == {
            "uris": [f"{hook_url}/hook?token=t"],
            "user_metadata": {"videogen_job_id": "job-123"},
        }
        for _ in range(300):
            if received:
                break
            await anyio.sleep(0.02)
    assert received == [
        {
            "type": "interaction.completed",
            "data": {"id": submission.ref, "status": "completed", "user_metadata": {"videogen_job_id": "job-123"}},
        }
    ]
    assert provider.parse_callback(received[0], submission) is None  # a prompt to poll, not a state
    await provider.aclose()


# -- the video download never leaks the key ---------------------------------------------------------------------


async def test_the_key_goes_only_to_the_apis_own_host(tmp_path: Path):
    seen: dict[str, list[str | None]] = {"api": [], "cdn": []}

    cdn_root: list[str] = []

    def recorder(name: str) -> Starlette:
        async def video(request: Request) -> Response:
            seen[name].append(request.headers.get("x-goog-api-key"))
            if request.url.path.endswith("/moved:download"):  # the Files API sending the bytes elsewhere
                return Response(status_code=302, headers={"location": f"{cdn_root[0]}/stored.mp4"})
            return Response(b"mp4-bytes", media_type="video/mp4")

        return Starlette(routes=[Route("/{path:path}", video)])

    with running(recorder("api")) as api, running(recorder("cdn")) as cdn:
        cdn_root.append(cdn)
        provider = GoogleProvider({"GEMINI_API_KEY": "AIza-secret", "VIDEOGEN_GOOGLE_BASE_URL": api})
        assert await provider._download(f"{api}/v1/files/abc:download?alt=media") == b"mp4-bytes"
        assert await provider._download(f"{cdn}/video.mp4") == b"mp4-bytes"
        assert await provider._download(f"{api}/v1/files/moved:download?alt=media") == b"mp4-bytes"
        with pytest.raises(ProviderError) as raised:
            await provider._download("gs://bucket/video.mp4")
        await provider.aclose()
    assert seen == {"api": ["AIza-secret", "AIza-secret"], "cdn": [None, None]}
    assert raised.value.code == ErrorCode.DOWNLOAD_FAILED


# -- Veo: predictLongRunning with the same key --------------------------------------------------------------------


async def test_veo_text_to_video_through_the_tools(g_env, sim: Simulator):
    job = await generate(
        g_env,
        prompt=f"a fox in the snow {QUICK}",
        model="veo-3.1-fast-generate-preview",
        duration=4,
        aspect_ratio="9:16",
        negative_prompt="blur",
    )
    assert job["status"] == "succeeded", job
    info = probe(job["video"]["path"])
    assert abs(info.duration_seconds - 4) < 0.2 and info.height > info.width
    (sim_job,) = sim.jobs.values()
    assert sim_job.id.startswith("models/veo-3.1-fast-generate-preview/operations/")
    assert sim_job.payload == {
        "instances": [{"prompt": f"a fox in the snow {QUICK}"}],
        "parameters": {
            "aspectRatio": "9:16",
            "durationSeconds": 4,
            "sampleCount": 1,
            "resolution": "720p",
            "negativePrompt": "blur",
        },
    }
    assert sim.downloads[sim_job.id] == 1  # the Files API download, which answers only with the key
    assert job["cost"] == pytest.approx(4 * 0.15)


async def test_veo_image_to_video_with_a_last_frame_sends_both_as_bytes(g_env, sim: Simulator, picture: Path):
    from PIL import Image

    last = picture.with_name("last.jpg")
    Image.new("RGB", (128, 72), (200, 40, 10)).save(last)
    job = await generate(
        g_env,
        prompt=f"the sky turns red {QUICK}",
        model="veo-3.1-generate-preview",
        images=[str(picture)],
        end_image=str(last),
        resolution="1080p",
    )
    assert job["status"] == "succeeded", job
    (sim_job,) = sim.jobs.values()
    (instance,) = sim_job.payload["instances"]
    assert instance["image"] == {
        "bytesBase64Encoded": base64.b64encode(picture.read_bytes()).decode(),
        "mimeType": "image/png",
    }
    assert instance["lastFrame"]["mimeType"] == "image/jpeg"
    assert base64.b64decode(instance["lastFrame"]["bytesBase64Encoded"]) == last.read_bytes()
    assert sim_job.payload["parameters"]["resolution"] == "1080p" and job["cost"] == pytest.approx(8 * 0.40)


async def test_veo_2_sends_no_resolution_and_makes_a_silent_clip(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"waves {QUICK}", model="veo-2.0-generate-001", duration=5, audio=False)
    assert job["status"] == "succeeded", job
    (sim_job,) = sim.jobs.values()
    assert "resolution" not in sim_job.payload["parameters"] and job["cost"] == pytest.approx(5 * 0.35)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"model": "veo-3.1-generate-preview", "resolution": "1080p", "duration": 4}, ("1080p", "8 s")),
        ({"model": "veo-3.1-fast-generate-preview", "resolution": "4k", "duration": 6}, ("4k", "8 s")),
        ({"model": "veo-3.0-generate-001", "resolution": "1080p", "aspect_ratio": "9:16"}, ("16:9",)),
        ({"model": "veo-3.0-generate-001", "resolution": "4k"}, ("resolution",)),
        ({"model": "veo-3.1-generate-preview", "duration": 5}, ("duration",)),
        ({"model": "veo-2.0-generate-001", "duration": 4, "audio": False}, ("duration",)),
        ({"model": "veo-2.0-generate-001"}, ("audio",)),  # Veo 2 is silent: audio defaults off, asked for on
        ({"model": "veo-3.1-generate-preview", "audio": False}, ("always", "sound")),
        ({"model": "veo-3.1-generate-preview", "seed": 7}, ("seed",)),
        ({"model": "veo-3.0-fast-generate-001", "images": ["START"], "end_image": "START"}, ("end_image",)),
        ({"model": "veo-3.1-generate-preview", "images": ["https://example.com/a.png"]}, ("not a url",)),
        ({"model": "veo-3.1-generate-preview", "aspect_ratio": "1:1"}, ("aspect",)),
    ],
)
async def test_veo_refused_before_a_job_exists(g_env, sim: Simulator, picture: Path, args, words):
    args = {k: (str(picture) if v == "START" else [str(picture)] if v == ["START"] else v) for k, v in args.items()}
    if args.get("model") == "veo-2.0-generate-001" and "audio" not in args:
        args["audio"] = True
    async with Client(build_server(Settings.from_env(g_env))) as client:
        result = await client.call_tool("generate_video", {"prompt": "P", "provider": "google", **args})
    text = " ".join(getattr(c, "text", "") for c in result.content).lower()
    assert result.is_error and all(w in text for w in words), text
    assert sim.submissions == 0


@pytest.mark.parametrize(
    ("model", "resolution", "usd"),
    [
        ("veo-3.1-generate-preview", "720p", 8 * 0.40),
        ("veo-3.1-generate-preview", "4k", 8 * 0.60),
        ("veo-3.1-fast-generate-preview", "1080p", 8 * 0.15),
        ("veo-3.1-fast-generate-preview", "4k", 8 * 0.35),
        ("veo-3.0-generate-001", "1080p", 8 * 0.40),
        ("veo-3.0-fast-generate-001", "720p", 8 * 0.15),
    ],
)
async def test_veo_estimate_cost(g_env, sim: Simulator, model, resolution, usd):
    async with Client(build_server(Settings.from_env(g_env))) as client:
        result = await client.call_tool(
            "estimate_cost", {"prompt": "p", "provider": "google", "model": model, "resolution": resolution}
        )
    assert result.structured_content["usd"] == pytest.approx(usd, abs=1e-4)
    assert sim.submissions == 0


async def test_veo_safety_filter_is_content_policy_with_googles_reason(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"p sim:fail=content {QUICK}", model="veo-3.1-fast-generate-preview")
    assert job["status"] == "failed" and job["error"]["code"] == "CONTENT_POLICY", job
    assert "usage guidelines" in job["error"]["message"] and "change the prompt" in job["error"]["message"].lower()
    assert sim.submissions == 1 and not sim.downloads


async def test_veo_operation_error_is_retryable_provider_failed(g_env, sim: Simulator):
    job = await generate(g_env, prompt=f"p sim:fail=internal {QUICK}", model="veo-3.0-fast-generate-001")
    assert job["error"]["code"] == "PROVIDER_FAILED" and job["error"]["retryable"] is True
    assert "internal error" in job["error"]["message"] and "13" in job["error"]["message"]


async def test_veo_errors_answered_at_submit_use_the_google_rpc_table(g_env, sim: Simulator):
    job = await generate(
        {**g_env, "GEMINI_API_KEY": "AIzaSyWrongKey" + "0" * 25}, prompt=f"p {QUICK}", model="veo-3.1-generate-preview"
    )
    assert job["error"]["code"] == "AUTH" and "AIzaSyWrongKey" not in job["error"]["message"]
    sim.config["credits_usd"] = 1.0
    job = await generate(g_env, prompt=f"p {QUICK}", model="veo-3.1-generate-preview")  # $3.20 > $1
    assert job["error"]["code"] == "OUT_OF_CREDIT" and sim.submissions == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, "running", None),
        ({"done": False, "metadata": {}}, "running", None),
        ({"done": True, "error": {"code": 13, "message": "boom"}}, "failed", ErrorCode.PROVIDER_FAILED),
        (
            {"done": True, "error": {"code": 3, "message": "Unable to process input image"}},
            "failed",
            ErrorCode.INVALID_INPUT,
        ),
        (
            {"done": True, "error": {"code": 3, "message": "The prompt violates our usage guidelines"}},
            "failed",
            ErrorCode.CONTENT_POLICY,
        ),
        (
            {"done": True, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1}}},
            "failed",
            ErrorCode.CONTENT_POLICY,
        ),
        ({"done": True, "response": {"generateVideoResponse": {}}}, "failed", ErrorCode.PROVIDER_FAILED),
        ({"done": True}, "failed", ErrorCode.PROVIDER_FAILED),
        (
            {
                "done": True,
                "response": {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": "https://x/f"}}]}},
            },
            "succeeded",
            None,
        ),
        (
            {
                "done": True,
                "response": {"generateVideoResponse": {"generatedSamples": [{"video": {"encodedVideo": "AA=="}}]}},
            },
            "succeeded",
            None,
        ),
    ],
)
def test_veo_operation_states(body: dict[str, Any], status: str, code: ErrorCode | None):
    found = Operation.read({"name": "models/veo-3.1-generate-preview/operations/abc", **body})
    assert found is not None
    shot = veo_snapshot(found)
    assert shot.status == status and (shot.error.code if shot.error else None) == code
    assert shot.video_url is None  # fetched by the provider (the key is needed)


async def test_veo_cannot_be_cancelled_so_the_video_is_still_delivered(g_env, sim: Simulator):
    async with Client(build_server(Settings.from_env(g_env))) as client:
        started = await client.call_tool(
            "generate_video",
            {"prompt": "p sim:seconds=20 sim:queue=300", "model": "veo-3.1-fast-generate-preview", "wait_seconds": 0},
        )
        job_id = started.structured_content["job_id"]
        for _ in range(200):
            status = await client.call_tool("get_status", {"job_id": job_id})
            if status.structured_content.get("provider_job_id"):
                break
            await anyio.sleep(0.01)
        refused = await client.call_tool("cancel_job", {"job_id": job_id})
        text = " ".join(getattr(c, "text", "") for c in refused.content) + str(refused.structured_content)
        assert "cannot cancel" in text, text
        done = await client.call_tool("get_status", {"job_id": job_id, "wait_seconds": 20})
    assert done.structured_content["status"] == "succeeded" and sim.submissions == 1


async def test_veo_restart_mid_job_submits_once(g_env, sim: Simulator):
    args = RequestArgs(
        prompt="a slow pan sim:seconds=200 sim:queue=1", provider="google", model="veo-3.1-generate-preview"
    )
    async with JobManager(Settings.from_env(g_env)) as first:
        row = await first.submit(args)
        for _ in range(500):
            if first.get(row.job_id).status == "running":
                break
            await anyio.sleep(0.01)
    async with JobManager(Settings.from_env(g_env)) as second:
        done = await second.wait(row.job_id, 30)
    assert done.status == "succeeded" and sim.submissions == 1
    assert done.video and probe(done.video["path"]).duration_seconds == pytest.approx(8, abs=0.2)


@pytest.mark.parametrize(
    ("model", "body", "status", "words"),
    [
        ("veo-9-generate", {"instances": [{"prompt": "p"}]}, 404, "not found"),
        (
            "veo-3.1-generate-preview",
            {"instances": [{"prompt": "p"}], "parameters": {"resolution": "1080p", "durationSeconds": 6}},
            400,
            "8",
        ),
        ("veo-3.1-generate-preview", {"instances": [{"prompt": "p"}], "parameters": {"seed": 1}}, 400, "seed"),
        (
            "veo-3.1-generate-preview",
            {"instances": [{"prompt": "p"}], "parameters": {"generateAudio": True}},
            400,
            "generateAudio",
        ),
        (
            "veo-3.1-generate-preview",
            {"instances": [{"prompt": "p"}], "parameters": {"durationSeconds": 10}},
            400,
            "duration",
        ),
        (
            "veo-2.0-generate-001",
            {"instances": [{"prompt": "p"}], "parameters": {"resolution": "720p"}},
            400,
            "resolution",
        ),
        (
            "veo-3.0-generate-001",
            {"instances": [{"prompt": "p", "image": "IMG", "lastFrame": "IMG"}]},
            400,
            "lastFrame",
        ),
        (
            "veo-3.1-generate-preview",
            {"instances": [{"prompt": "p", "image": {"gcsUri": "gs://b/o.png", "mimeType": "image/png"}}]},
            400,
            "gcsUri",
        ),
    ],
)
async def test_the_simulator_refuses_what_the_gemini_api_refuses(
    server, sim: Simulator, picture: Path, model, body, status, words
):
    image = {"bytesBase64Encoded": base64.b64encode(picture.read_bytes()).decode(), "mimeType": "image/png"}
    for instance in body["instances"]:
        for key in ("image", "lastFrame"):
            if instance.get(key) == "IMG":
                instance[key] = image
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{server[0]}/v1beta/models/{model}:predictLongRunning", headers={"x-goog-api-key": DEFAULT_KEY}, json=body
        )
        keyless = await client.post(f"{server[0]}/v1beta/models/{model}:predictLongRunning", json=body)
    assert answer.status_code == status and words in answer.json()["error"]["message"], answer.text
    assert keyless.status_code == 403 and sim.submissions == 0


async def test_veo_gets_webhook_config_and_its_callback_only_prompts_a_poll(g_env, sim: Simulator):
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return JSONResponse({})

    provider = GoogleProvider(g_env)
    request = request_for(g_env, prompt=f"p {QUICK}", model="veo-3.0-generate-001")
    with running(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as hook_url:
        submission = await provider.submit("job-9", request, callback_url=f"{hook_url}/hook?token=t")
        (sim_job,) = sim.jobs.values()
        assert sim_job.payload["webhookConfig"] == {
            "uris": [f"{hook_url}/hook?token=t"],
            "user_metadata": {"videogen_job_id": "job-9"},
        }
        for _ in range(300):
            if received:
                break
            await anyio.sleep(0.02)
    assert received == [
        {"type": "video.generated", "data": {"name": submission.ref, "user_metadata": {"videogen_job_id": "job-9"}}}
    ]
    assert provider.parse_callback(received[0], submission) is None
    assert (await provider.poll(submission, request)).status == "succeeded"
    await provider.aclose()


def test_only_omni_jobs_can_be_cancelled_and_the_catalogue_says_which():
    from providers.google import VEO_IDS, GoogleProvider
    from server.catalogue_doc import _cancel

    google = GoogleProvider({})
    assert google.cancels("gemini-omni-1.2-flash") and not google.cancels("veo-3.1-generate-preview")
    said = _cancel(google)
    assert said.startswith("yes, except") and all(f"`{model}`" in said for model in VEO_IDS)
    assert "gemini-omni" not in said
