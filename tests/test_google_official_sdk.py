"""The official `google-genai` SDK (the Interactions client, 3.6+) against the google simulator, unchanged but
for its base URL: a background interaction polled to the end, both ways a video comes back, cancel, webhook_config,
and the SDK's own errors for what the real API refuses. Veo: google-genai 2.34.0 (the last release whose
generate_videos takes an API key) in a subprocess makes a video with generate_videos, operations.get and
files.download, and its request body is compared with the adapter's; 3.6.1 reads operations and downloads."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from providers.simulators.common import Simulator, running
from providers.simulators.google import DEFAULT_KEY, create_app

genai = pytest.importorskip("google.genai")
QUICK = "sim:seconds=20 sim:queue=1"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=300.0)
    with running(Starlette(routes=[Mount("/google", app=app)])) as url:
        yield f"{url}/google", app.state.sim


@pytest.fixture
def client(server: tuple[str, Simulator]) -> Any:
    with server[1].lock:
        server[1].jobs.clear()
        server[1].config.clear()
    return genai.Client(api_key=DEFAULT_KEY, http_options={"base_url": server[0]})


def wait(client: Any, interaction: Any) -> Any:
    deadline = time.monotonic() + 30
    while interaction.status not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, interaction.status
        time.sleep(0.05)
        interaction = client.interactions.get(interaction.id)
    return interaction


def frames(data: bytes, tmp_path: Path) -> tuple[int, float]:
    import av

    path = tmp_path / "out.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        count = sum(1 for _ in container.decode(container.streams.video[0]))
        return count, float(container.duration or 0) / av.time_base


def test_a_background_interaction_polled_to_a_uri_the_sdk_downloads(client: Any, server, tmp_path: Path):
    created = client.interactions.create(
        model="gemini-omni-1.2-flash",
        input=f"a marble on a wooden track {QUICK}",
        background=True,
        generation_config={"video_config": {"task": "text_to_video"}},
        response_format={
            "type": "video",
            "aspect_ratio": "9:16",
            "duration": "4s",
            "resolution": "720p",
            "delivery": "uri",
        },
    )
    assert created.status == "queued" and created.id.startswith("v1_")
    done = wait(client, created)
    assert done.status == "completed" and done.output_video is not None and done.output_video.data is None
    assert done.usage.output_tokens_by_modality[0].tokens == 4 * 5792
    name = done.output_video.uri.split("/files/")[1].split(":")[0]
    data = client.files.download(file=f"files/{name}")  # the SDK's own download: sends the key
    count, seconds = frames(data, tmp_path)
    assert count > 0 and abs(seconds - 4) < 0.3


def test_inline_delivery_is_base64_in_the_model_output(client: Any, tmp_path: Path):
    created = client.interactions.create(
        model="gemini-omni-1.1-flash",
        input=f"a cat {QUICK}",
        background=True,
        response_format={"type": "video", "duration": "3s"},
    )
    done = wait(client, created)
    video = done.output_video
    assert video.mime_type == "video/mp4" and video.uri is None
    raw = video.data if isinstance(video.data, bytes) else base64.b64decode(video.data)
    count, seconds = frames(raw, tmp_path)
    assert count > 0 and abs(seconds - 3) < 0.3


def test_an_image_to_video_interaction(client: Any, tmp_path: Path):
    from PIL import Image

    path = tmp_path / "start.png"
    Image.new("RGB", (64, 36), (200, 40, 40)).save(path)
    created = client.interactions.create(
        model="gemini-omni-flash-preview",
        input=[
            {"type": "text", "text": f"the sun sets {QUICK}"},
            {"type": "image", "data": base64.b64encode(path.read_bytes()).decode(), "mime_type": "image/png"},
        ],
        background=True,
        generation_config={"video_config": {"task": "image_to_video"}},
    )
    assert wait(client, created).status == "completed"


def test_cancel(client: Any, server):
    created = client.interactions.create(
        model="gemini-omni-1.2-flash", input="never mind sim:queue=600", background=True
    )
    cancelled = client.interactions.cancel(created.id)
    assert cancelled.status == "cancelled" and client.interactions.get(created.id).status == "cancelled"
    assert server[1].jobs[created.id].cancelled


def test_webhook_config_is_called_back(client: Any):
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return JSONResponse({})

    with running(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        created = client.interactions.create(
            model="gemini-omni-1.2-flash",
            input=f"p {QUICK}",
            background=True,
            webhook_config={"uris": [f"{url}/hook"], "user_metadata": {"job": "42"}},
        )
        wait(client, created)
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
    assert received == [
        {
            "type": "interaction.completed",
            "data": {"id": created.id, "status": "completed", "user_metadata": {"job": "42"}},
        }
    ]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        # The SDK's types take any string here (UnrecognizedStr); the API refuses it.
        ({"response_format": {"type": "video", "resolution": "8k"}}, "Unsupported resolution '8k'"),
        ({"response_format": {"type": "video", "duration": "20s"}}, "3s to 15s"),
        ({"generation_config": {"video_config": {"task": "make_it_pop"}}}, "video_config.task"),
        ({"extra_body": {"negative_prompt": "rain"}}, 'Unknown name "negative_prompt"'),
    ],
)
def test_the_sdk_raises_the_apis_400_for_what_it_rejects(client: Any, server, fields: dict[str, Any], words: str):
    from google.genai._interactions import BadRequestError

    before = server[1].submissions
    with pytest.raises(BadRequestError) as raised:
        client.interactions.create(model="gemini-omni-1.2-flash", input="p", background=True, **fields)
    assert raised.value.status_code == 400 and words in str(raised.value)
    assert server[1].submissions == before  # refused: nothing made, nothing billed


def test_a_key_google_does_not_know(server):
    from google.genai._interactions import BadRequestError

    other = genai.Client(api_key="AIzaSyNotOurs" + "0" * 26, http_options={"base_url": server[0]})
    with pytest.raises(BadRequestError) as raised:
        other.interactions.get("v1_x")
    assert "API key not valid" in str(raised.value)


# -- Veo (predictLongRunning + operations) ------------------------------------------------------------------
# google-genai 3.x sends generate_videos only to Vertex (models.py _generate_videos raises ValueError with an API
# key); 2.34.0, the last 2.x, still has the Developer-API converters. So: 3.6.1 in process for what it still
# does with a key (operations.get, files.download), and 2.34.0 in a subprocess for generate_videos itself.
GENAI_2 = "2.34.0"
VEO_SCRIPT = r"""
import json, sys
from google import genai
from google.genai import errors, types

base, key, start, last, out = sys.argv[1:6]
client = genai.Client(api_key=key, http_options={"base_url": base})
report = {"version": genai.__version__}
image = lambda path: types.Image(image_bytes=open(path, "rb").read(), mime_type="image/png")
op = client.models.generate_videos(
    model="veo-3.1-generate-preview",
    source=types.GenerateVideosSource(prompt="the tide comes in sim:seconds=20 sim:queue=1", image=image(start)),
    config=types.GenerateVideosConfig(
        number_of_videos=1, duration_seconds=8, aspect_ratio="16:9", resolution="1080p",
        negative_prompt="rain", last_frame=image(last),
        webhook_config=types.WebhookConfig(uris=["http://127.0.0.1:9/hook"], user_metadata={"videogen_job_id": "j1"}),
    ),
)
report["name"] = op.name
import time
deadline = time.monotonic() + 30
while not op.done:
    assert time.monotonic() < deadline
    time.sleep(0.05)
    op = client.operations.get(op)
video = op.result.generated_videos[0].video
# The SDK parses a file name out of an https:// uri only; the simulator's is http://, so name it as files/{name}.
name = video.uri.split("/files/")[1].split(":")[0]
open(out, "wb").write(client.files.download(file=f"files/{name}"))
for label, config in (
    ("short_1080p", types.GenerateVideosConfig(duration_seconds=4, resolution="1080p")),
    ("seed", types.GenerateVideosConfig(seed=3)),
):
    try:
        client.models.generate_videos(model="veo-3.1-generate-preview", prompt="p", config=config)
        report[label] = "accepted"
    except errors.ClientError as error:
        report[label] = f"{error.code} {error.message}"
    except ValueError as error:
        report[label] = f"ValueError {error}"
try:
    client.models.generate_videos(model="veo-9-generate", prompt="p")
except errors.ClientError as error:
    report["unknown_model"] = f"{error.code} {error.message}"
print(json.dumps(report))
"""


@pytest.fixture(scope="session")
def genai_2(pytestconfig: pytest.Config) -> Path:
    """google-genai 2.34.0 in a folder of its own (its dependencies are 3.6.1's, already installed)."""
    import os
    import shutil
    import subprocess
    import sys

    # Where the client suite keeps its virtual environments (tests/clients/harness.py), not pytest's cache
    # (absent under -p no:cacheprovider).
    cache = Path(os.environ.get("VIDEOGEN_CLIENTS_CACHE") or Path.home() / ".cache" / "mcp-videogen-test-clients")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"google-genai-{GENAI_2}"
    if not (target / "google" / "genai" / "__init__.py").exists():
        staging = target.with_name(f"{target.name}.{os.getpid()}")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(staging),
                f"google-genai=={GENAI_2}",
            ],
            capture_output=True,
            timeout=300,
        )
        if done.returncode != 0:
            reason = f"google-genai {GENAI_2} could not be installed here (offline?): {done.stderr.decode()[-300:]}"
            if os.environ.get("CI"):
                pytest.fail(reason)  # CI installs every oracle: nothing may skip there
            pytest.skip(reason)
        shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)  # another worker may have won: then its copy is used
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def test_genai_3_sends_generate_videos_only_to_vertex(client: Any, server):
    before = server[1].submissions
    with pytest.raises(ValueError, match="only supported in"):
        client.models.generate_videos(
            model="veo-3.1-generate-preview", source=genai.types.GenerateVideosSource(prompt="p")
        )
    assert server[1].submissions == before


def test_genai_2_generate_videos_then_operations_get_and_files_download(server, genai_2: Path, tmp_path: Path):
    import json
    import os
    import subprocess
    import sys

    from PIL import Image

    from providers.base import VideoRequest
    from providers.google import GoogleProvider

    start, last, out = tmp_path / "start.png", tmp_path / "last.png", tmp_path / "out.mp4"
    Image.new("RGB", (64, 36), (20, 90, 200)).save(start)
    Image.new("RGB", (64, 36), (200, 90, 20)).save(last)
    env = {**os.environ, "PYTHONPATH": str(genai_2)}
    done = subprocess.run(
        [sys.executable, "-c", VEO_SCRIPT, server[0], DEFAULT_KEY, str(start), str(last), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["version"] == GENAI_2 and report["name"].startswith("models/veo-3.1-generate-preview/operations/")
    count, seconds = frames(out.read_bytes(), tmp_path)
    assert count > 0 and abs(seconds - 8) < 0.3
    # What the API refuses, the SDK raises: the API's 400 and 404, and the SDK's own refusal of seed.
    assert report["short_1080p"].startswith("400 ") and "durationSeconds 8" in report["short_1080p"]
    assert report["seed"].startswith("ValueError") and "seed" in report["seed"]
    assert report["unknown_model"].startswith("404 ")
    # The adapter's body for the same request is exactly what the official SDK sent.
    sent = server[1].jobs[report["name"]].payload
    request = VideoRequest(
        prompt="the tide comes in sim:seconds=20 sim:queue=1",
        provider="google",
        model="veo-3.1-generate-preview",
        mode="image_to_video",
        duration=8,
        aspect_ratio="16:9",
        resolution="1080p",
        images=[str(start)],
        end_image=str(last),
        negative_prompt="rain",
        audio=True,
    )
    hook = {"uris": ["http://127.0.0.1:9/hook"], "user_metadata": {"videogen_job_id": "j1"}}  # as submit adds it
    assert {**GoogleProvider({}, allowed_dirs=[tmp_path]).veo_body(request), "webhookConfig": hook} == sent


def test_genai_3_reads_an_operation_and_downloads_its_video(server, tmp_path: Path):
    # 3.x's default Developer-API version is v1 (2.x's was v1beta); Veo's operations are documented on v1beta.
    client = genai.Client(api_key=DEFAULT_KEY, http_options={"base_url": server[0], "api_version": "v1beta"})
    import httpx
    from google.genai import types

    def submit(prompt: str) -> str:
        answer = httpx.post(
            f"{server[0]}/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning",
            headers={"x-goog-api-key": DEFAULT_KEY},
            json={"instances": [{"prompt": prompt}], "parameters": {"durationSeconds": 4, "aspectRatio": "9:16"}},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["name"]

    def finish(name: str) -> Any:
        op = types.GenerateVideosOperation(name=name)
        deadline = time.monotonic() + 30
        while not op.done:
            assert time.monotonic() < deadline
            time.sleep(0.05)
            op = client.operations.get(op)
        return op

    made = finish(submit(f"a kite {QUICK}"))
    (generated,) = made.result.generated_videos
    name = generated.video.uri.split("/files/")[1].split(":")[0]  # the SDK parses names from https:// uris only
    count, seconds = frames(client.files.download(file=f"files/{name}"), tmp_path)
    assert count > 0 and abs(seconds - 4) < 0.3
    filtered = finish(submit(f"p sim:fail=content {QUICK}"))
    assert not filtered.result.generated_videos and filtered.result.rai_media_filtered_count == 1
    assert "usage guidelines" in filtered.result.rai_media_filtered_reasons[0]
    failed = finish(submit(f"p sim:fail=internal {QUICK}"))
    assert failed.error and failed.error["code"] == 13
