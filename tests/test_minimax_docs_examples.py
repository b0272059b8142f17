# ruff: noqa: E501  (the docs' example code is kept as the page shows it, long lines included)
"""MiniMax has no official Python SDK, so its simulator is held to the docs' own example code and to MiniMax's own
client, run unchanged apart from the host:

- the Python example of the Video Generation guide (platform.minimax.io/docs/guides/video-generation): its four
  modes (text, first frame, first and last frame, subject reference), the status poll and the download, copied
  as the page shows it, with "https://api.minimax.io" replaced by the simulator's address;
- the callback service example of the API reference (the callback_url parameter): the docs' FastAPI app, which
  echoes the challenge, verified by the simulator and then sent the task's updates;
- MiniMax-MCP's API client (minimax_mcp/client.py, PyPI minimax-mcp), driven the way its generate_video tool
  drives it, including its reading of base_resp errors (1004 -> MinimaxAuthError). Skipped where minimax-mcp is
  not installed (its own dependencies include sound libraries; `pip install --no-deps minimax-mcp` is enough).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.common import Simulator, running
from providers.simulators.minimax import create_app

KEY = "sk-api-docs-example-key-0000"
HOST = "https://api.minimax.io"

# The guide's example, as the page shows it (only its fence removed).
GUIDE = '''
import os
import time
import requests

api_key = os.environ["MINIMAX_API_KEY"]
headers = {"Authorization": f"Bearer {api_key}"}


# --- Step 1: Create a video generation task ---
# The API supports four modes: text-to-video, image-to-video, first-and-last-frame-video, and subject-reference-video.
# Each function below starts an asynchronous task and returns a unique task_id.

def invoke_text_to_video() -> str:
    """(Mode 1) Create a video generation task from a text description."""
    url = "https://api.minimax.io/v1/video_generation"
    payload = {
        # 'prompt' is the key parameter that defines the video’s content and motion.
        "prompt": "A tiktok dancer is dancing on a drone, doing flips and tricks.",
        "model": "MiniMax-Hailuo-2.3",
        "duration": 6,
        "resolution": "1080P",
    }
    response = requests.post(url, headers=headers, json=payload)
    response.raise_for_status()
    task_id = response.json()["task_id"]
    return task_id

def invoke_image_to_video() -> str:
    """(Mode 2) Create a video generation task using a first-frame image and text description."""
    url = "https://api.minimax.io/v1/video_generation"
    payload = {
        # In image-to-video mode, 'prompt' describes the dynamic scene evolution from the first image.
        "prompt": "Contemporary dance，the people in the picture are performing contemporary dance.",
        # 'first_frame_image' specifies the starting frame of the video.
        "first_frame_image": "https://filecdn.minimax.chat/public/85c96368-6ead-4eae-af9c-116be878eac3.png",
        "model": "MiniMax-Hailuo-2.3",
        "duration": 6,
        "resolution": "1080P",
    }
    response = requests.post(url, headers=headers, json=payload)
    response.raise_for_status()
    task_id = response.json()["task_id"]
    return task_id

def invoke_start_end_to_video() -> str:
    """(Mode 3) Create a video generation task using a first-frame image, last-frame image and text description."""
    url = "https://api.minimax.io/v1/video_generation"
    payload = {
    "prompt": "A little girl grow up.",
    # 'first_frame_image' specifies the starting frame of the video.
    "first_frame_image": "https://filecdn.minimax.chat/public/fe9d04da-f60e-444d-a2e0-18ae743add33.jpeg",
    # 'last_frame_image' specifies the last frame of the video.
    "last_frame_image": "https://filecdn.minimax.chat/public/97b7cd08-764e-4b8b-a7bf-87a0bd898575.jpeg",
    "model": "MiniMax-Hailuo-02",
    "duration": 6,
    "resolution": "1080P"
    }
    response = requests.post(url, headers=headers, json=payload)
    response.raise_for_status()
    task_id = response.json()["task_id"]
    return task_id

def invoke_subject_reference() -> str:
    """(Mode 4) Create a video generation task using a subject's face photo and a text description."""
    url = "https://api.minimax.io/v1/video_generation"
    payload = {
    "prompt": "On an overcast day, in an ancient cobbled alleyway, the model is dressed in a brown corduroy jacket paired with beige trousers and ankle boots, topped with a vintage beret. The shot starts from over the model's shoulder, following his steps as it captures his swaying figure. Then, the camera moves slightly sideways to the front, showcasing his natural gesture of adjusting the beret with a smile. Next, the shot slightly tilts down, capturing the model's graceful stance as he leans against the wall at a corner. The video concludes with an upward shot, showing the model smiling at the camera. The lighting and colors are natural, giving the footage a cinematic quality.",
    "subject_reference": [
        {
            "type": "character",
            "image": [
                "https://filecdn.minimax.chat/public/54be8fbe-5694-4422-9c95-99cf785eb90e.PNG"
            ],
        }
    ],
    "model": "S2V-01",
    "duration": 6,
    "resolution": "1080P",
}
    response = requests.post(url, headers=headers, json=payload)
    response.raise_for_status()
    task_id = response.json()["task_id"]
    return task_id


# --- Step 2: Poll task status ---
# Since video generation is time-consuming, the API works asynchronously.
# After submitting a task, poll its status using the task_id until it succeeds or fails.
def query_task_status(task_id: str):
    """Poll task status by task_id until it succeeds or fails."""
    url = "https://api.minimax.io/v1/query/video_generation"
    params = {"task_id": task_id}
    while True:
        # A recommended polling interval is 10 seconds to avoid unnecessary server load.
        time.sleep(10)
        response = requests.get(url, headers=headers, params=params)
        response.raise_for_status()
        response_json = response.json()
        status = response_json["status"]
        print(f"Current task status: {status}")
        # On success, the API returns a 'file_id' to fetch the video file.
        if status == "Success":
            return response_json["file_id"]
        elif status == "Fail":
            raise Exception(f"Video generation failed: {response_json.get('error_message', 'Unknown error')}")


# --- Step 3: Retrieve and save the video file ---
# When the task succeeds, the response includes a file_id instead of a direct download link.
# This function fetches the download URL and saves the video locally.
def fetch_video(file_id: str):
    """Retrieve the download URL from file_id and save the video locally."""
    url = "https://api.minimax.io/v1/files/retrieve"
    params = {"file_id": file_id}
    response = requests.get(url, headers=headers, params=params)
    response.raise_for_status()
    download_url = response.json()["file"]["download_url"]

    with open("output.mp4", "wb") as f:
        video_response = requests.get(download_url)
        video_response.raise_for_status()
        f.write(video_response.content)
    print("Video successfully saved as output.mp4")


# --- Main process: end-to-end example ---
# Demonstrates the full workflow from task creation to video retrieval.
if __name__ == "__main__":
    # Choose a task creation mode
    task_id = invoke_text_to_video()  # Mode 1: Text-to-Video
    # task_id = invoke_image_to_video() # Mode 2: Image-to-Video
    # task_id = invoke_start_end_to_video() # Mode 3: Start-End-to-Video
    # task_id = invoke_subject_reference() # Mode 4: Subject Reference
    print(f"Video generation task submitted, Task ID: {task_id}")
    file_id = query_task_status(task_id)
    print(f"Task succeeded, File ID: {file_id}")
    fetch_video(file_id)
'''

# The callback service example of the API reference (callback_url), as the page shows it.
CALLBACK_SERVICE = """
from fastapi import FastAPI, HTTPException, Request
import json

app = FastAPI()

@app.post("/get_callback")
async def get_callback(request: Request):
    try:
        json_data = await request.json()
        challenge = json_data.get("challenge")
        if challenge is not None:
            # Validation request, echo back challenge
            return {"challenge": challenge}
        else:
            # Status update request, handle accordingly
            # {
            #     "task_id": "115334141465231360",
            #     "status": "success",
            #     "file_id": "205258526306433",
            #     "base_resp": {
            #         "status_code": 0,
            #         "status_msg": "success"
            #     }
            # }
            return {"status": "success"}
    except Exception as e:
        raise HTTPException(status_code=500, detail=str(e))

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(
        app, # Required
        host="0.0.0.0", # Required
        port=8000, # Required, port can be customized
        # ssl_keyfile="yourname.yourDomainName.com.key", # Optional, enable if using SSL
        # ssl_certfile="yourname.yourDomainName.com.key", # Optional, enable if using SSL
    )
"""


@pytest.fixture
def served() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=2000.0)  # the guide's jobs take simulated minutes: real fractions of a second
    with running(Starlette(routes=[Mount("/minimax", app=app)])) as url:
        yield f"{url}/minimax", app.state.sim


@pytest.fixture
def guide(served: tuple[str, Simulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The guide's module, run against the simulator: its 10 s poll interval shortened, its output.mp4 in tmp."""
    base, _ = served
    monkeypatch.setenv("MINIMAX_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleep(min(seconds, 0.02)))
    namespace: dict[str, Any] = {"__name__": "minimax_guide"}
    exec(compile(GUIDE.replace(HOST, base), "platform.minimax.io/docs/guides/video-generation", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    ("mode", "model", "size"),
    [
        ("invoke_text_to_video", "MiniMax-Hailuo-2.3", (1920, 1080)),
        ("invoke_image_to_video", "MiniMax-Hailuo-2.3", (1920, 1080)),
        ("invoke_start_end_to_video", "MiniMax-Hailuo-02", (1920, 1080)),
        ("invoke_subject_reference", "S2V-01", (1280, 720)),
    ],
)
def test_the_guides_example_makes_a_video_in_each_mode(
    guide: dict[str, Any], served: tuple[str, Simulator], tmp_path: Path, mode: str, model: str, size: tuple[int, int]
):
    _, sim = served
    task_id = guide[mode]()
    file_id = guide["query_task_status"](task_id)
    guide["fetch_video"](file_id)
    from server.media import probe

    info = probe(str(tmp_path / "output.mp4"))
    assert abs(info.duration_seconds - 6) < 0.3
    job = sim.jobs[task_id]
    assert job.payload["model"] == model and job.extra["file_id"] == file_id and sim.downloads[task_id] == 1
    assert sim.submissions == 1 and sim.polls[task_id] >= 1
    from providers.simulators.minimax import SIZES

    assert SIZES[job.extra["resolution"]] == size


def test_the_guides_poll_raises_on_a_failed_task(guide: dict[str, Any], served: tuple[str, Simulator]):
    base, _ = served
    import requests

    created = requests.post(
        f"{base}/v1/video_generation",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": "T2V-01", "prompt": "a harbour sim:fail=internal sim:seconds=2 sim:queue=0"},
    ).json()
    with pytest.raises(Exception, match="Video generation failed"):
        guide["query_task_status"](created["task_id"])


def test_the_docs_callback_service_passes_the_challenge_and_gets_the_updates(served: tuple[str, Simulator]):
    base, sim = served
    namespace: dict[str, Any] = {"__name__": "minimax_callback_service"}
    exec(compile(CALLBACK_SERVICE, "platform.minimax.io/docs/api-reference (callback_url)", "exec"), namespace)
    import requests

    with running(namespace["app"]) as receiver:
        created = requests.post(
            f"{base}/v1/video_generation",
            headers={"Authorization": f"Bearer {KEY}"},
            json={
                "model": "MiniMax-Hailuo-02",
                "prompt": "a harbour sim:seconds=20 sim:queue=1",
                "callback_url": f"{receiver}/get_callback",
            },
        ).json()
        job = sim.jobs[created["task_id"]]
        deadline = time.monotonic() + 10
        while sim.callbacks_delivered[job.id] < 2:
            assert time.monotonic() < deadline, (job.extra, dict(sim.callbacks))
            time.sleep(0.02)
    assert job.extra["callback_verified"] is True
    assert [body["status"] for body in job.extra["callbacks_sent"]] == ["processing", "success"]
    assert job.extra["callbacks_sent"][-1]["file_id"] == job.extra["file_id"]


# -- MiniMax-MCP's client -------------------------------------------------------------------------------------------


def test_minimax_mcps_client_makes_a_video_as_its_generate_video_tool_does(served: tuple[str, Simulator]):
    client_module = pytest.importorskip("minimax_mcp.client")
    exceptions = pytest.importorskip("minimax_mcp.exceptions")
    base, sim = served
    api = client_module.MinimaxAPIClient(KEY, base)
    # server.py generate_video: the payload, then the poll and the file, as it builds them.
    payload = {"model": "MiniMax-Hailuo-2.3", "prompt": "A lighthouse in a storm", "duration": 6, "resolution": "768P"}
    task_id = api.post("/v1/video_generation", json=payload).get("task_id")
    assert task_id
    deadline = time.monotonic() + 10
    while True:
        status_response = api.get(f"/v1/query/video_generation?task_id={task_id}")
        if status_response.get("status") == "Success":
            break
        assert status_response.get("status") != "Fail" and time.monotonic() < deadline
        time.sleep(0.02)
    file_id = status_response.get("file_id")
    download_url = api.get(f"/v1/files/retrieve?file_id={file_id}").get("file", {}).get("download_url")
    import requests

    video = requests.get(download_url)
    video.raise_for_status()
    assert video.content[4:8] == b"ftyp" and sim.submissions == 1
    # Its reading of MiniMax's errors: base_resp codes on HTTP 200.
    with pytest.raises(exceptions.MinimaxAuthError, match="check your API key"):
        client_module.MinimaxAPIClient("", base).post("/v1/video_generation", json=payload)  # 1004
    with pytest.raises(exceptions.MinimaxRequestError, match="2013"):
        api.post("/v1/video_generation", json={**payload, "duration": 10, "resolution": "1080P"})
    sim.config["errors"] = [1002]
    with pytest.raises(exceptions.MinimaxRequestError, match="1002-rate limit"):
        api.post("/v1/video_generation", json=payload)
    assert sim.submissions == 1
