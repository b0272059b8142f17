"""The Runway simulator's models against the official SDK (runwayml 5.24): the same fields, literals and frame
rules per model and endpoint; the SDK running a task on each model, charged at the rates below; refusals."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.simulators.common import Simulator, running
from providers.simulators.runway import MODELS as SIMULATED
from providers.simulators.runway import create_app
from tests.runway_sdk import frame_positions as _frame_positions
from tests.runway_sdk import literals as _literals
from tests.runway_sdk import sdk_models as _sdk_models

pytestmark = pytest.mark.anyio

KEY = "key_" + "0123abcd" * 16  # key_ and 128 hex digits
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
URL = "https://example.com/a.png"
SPEED = 600.0


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Simulator]]:
    app = create_app(speed=SPEED)
    with running(Starlette(routes=[Mount("/runway", app=app)])) as url:
        yield url, app.state.sim


@pytest.fixture
def sim(server: tuple[str, Simulator]) -> Simulator:
    simulator = server[1]
    with simulator.lock:
        simulator.jobs.clear()
        simulator.config.clear()
        simulator.submissions = 0
    return simulator


# -- 1. every simulated model and endpoint equals the SDK's declaration ------------------------------------


def test_simulator_takes_exactly_what_the_official_sdk_declares():
    sdk = _sdk_models()
    new = {
        *("seedance2_fast", "seedance2_mini", "seedance2_5", "hailuo3", "grok_imagine_1_5", "happyhorse_1_0"),
        *("gemini_omni_flash", "wan3", "kling3.0_standard", "kling3.0_pro", "kling3.0_4k", "klingO3_standard"),
        *("klingO3_pro", "aleph2", "gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast", "seedance2"),
        *("wan3_prime", "kling2.5_turbo_pro", "klingO3_4k", "kling_4", "h3_max", "grok_imagine_1_5_lite"),
        "gemini_omni_flash_1.1",
    }
    assert set(SIMULATED) == new
    checked = 0
    for model, rules in SIMULATED.items():
        for endpoint in ("text_to_video", "image_to_video", "video_to_video"):
            assert (endpoint in rules.shapes) == (model in sdk[endpoint]), (model, endpoint)
            if endpoint not in rules.shapes:
                continue
            shape, declared = rules.shapes[endpoint], sdk[endpoint][model]
            assert shape.fields == set(declared), (model, endpoint, shape.fields ^ set(declared))
            assert shape.required == {f for f, (_, req) in declared.items() if req}, (model, endpoint)
            for name, taken in (("ratio", shape.ratios), ("resolution", shape.resolutions)):
                if name in declared:
                    assert taken == _literals(declared[name][0]), (model, endpoint, name)  # () when a plain str
                else:
                    assert not taken, (model, endpoint, name)
            if "outputFormat" in declared:
                assert shape.output_formats == _literals(declared["outputFormat"][0]), (model, endpoint)
            if "duration" in declared:
                lengths = _literals(declared["duration"][0])
                assert ("auto" in lengths) == rules.auto_duration, (model, endpoint)
                fixed = [d for d in lengths if d != "auto"]
                assert not fixed or tuple(fixed) == rules.durations, (model, endpoint)
                assert rules.durations, (model, endpoint)
            if endpoint == "image_to_video":
                frames = _frame_positions(declared["promptImage"][0])
                if frames is None:  # items typed `object`: the docstring states the rule (tested below)
                    assert shape.positions == ("first", "last"), model
                    assert shape.reference_images == (model != "kling_4"), model  # Kling 4: `references` apart
                else:
                    assert frames == (shape.positions, not shape.reference_images), (model, frames)
            checked += 1
    assert checked == 61  # model-endpoint pairs


def test_object_typed_frames_follow_the_sdk_docstring():
    """hailuo3 and wan3 type promptImage items as `object`; their docstrings give the rule the simulator uses."""
    import inspect

    from runwayml.types import image_to_video_create_params

    source = " ".join(inspect.getsource(image_to_video_create_params).split())
    for cls in ("Hailuo3", "Wan3"):
        start = source.index(f"class {cls}(TypedDict")
        block = source[start : source.index("class ", start + 10)]
        assert "Use position `first`/`last` for keyframe mode, or omit position for reference images" in block
        assert "The two modes cannot be mixed" in block
    start = source.index("class Kling4(TypedDict")  # frames only; reference images go in `references`
    block = source[start : source.index("class ", start + 10)]
    assert "an array with a first frame and optional middle and last frames" in block


# -- 2. the official SDK creates and reads a task on each new model; charged as the table says ------------

# Credits per second (and extras) the simulator is to charge, from the research notes (guides/pricing copies,
# measurements): the sample each case uses is priced here by hand.
CASES: list[tuple[str, str, dict[str, Any], float]] = [
    ("text_to_video", "seedance2", {"prompt_text": "a cat", "ratio": "1920:1080", "duration": 4}, 4 * 40),
    ("text_to_video", "seedance2", {"prompt_text": "a cat", "ratio": "3840:2160", "duration": 4}, 4 * 150),
    ("text_to_video", "seedance2", {"prompt_text": "a cat", "ratio": "864:496", "duration": 4}, 4 * 36),
    ("text_to_video", "seedance2_fast", {"prompt_text": "a cat", "ratio": "1280:720", "duration": 5}, 5 * 29),
    ("image_to_video", "seedance2_fast", {"prompt_image": URL, "duration": 6}, 6 * 29),
    ("text_to_video", "seedance2_mini", {"prompt_text": "a cat", "ratio": "1280:720", "duration": 4}, 64),  # 4x16 < 64
    ("image_to_video", "seedance2_mini", {"prompt_image": URL, "duration": 6}, 6 * 16),
    ("text_to_video", "seedance2_5", {"prompt_text": "a cat", "ratio": "1920:1080", "duration": 5}, 5 * 68),
    ("image_to_video", "seedance2_5", {"prompt_image": URL, "ratio": "854:480", "duration": 4}, 80),  # 4x20 = 80
    ("text_to_video", "seedance2_5", {"prompt_text": "a cat", "duration": 4}, 4 * 30),  # default 1280:720
    ("text_to_video", "hailuo3", {"prompt_text": "a cat", "ratio": "16:9", "resolution": "768p", "duration": 6}, 60),
    (
        "image_to_video",
        "hailuo3",
        {"prompt_image": [{"uri": URL}, {"uri": URL}], "prompt_text": "a cat", "resolution": "2k", "duration": 5},
        5 * 15 + 2 * 2,
    ),
    ("text_to_video", "grok_imagine_1_5", {"prompt_text": "a cat", "resolution": "720p", "duration": 4}, 4 * 16),
    ("image_to_video", "grok_imagine_1_5", {"prompt_image": URL, "resolution": "480p", "duration": 1}, 10 + 1),
    ("text_to_video", "happyhorse_1_0", {"prompt_text": "a cat", "ratio": "1920:1080", "duration": 3}, 3 * 30),
    ("image_to_video", "happyhorse_1_0", {"prompt_image": URL, "resolution": "720p", "duration": 4}, 4 * 15),
    ("text_to_video", "gemini_omni_flash", {"prompt_text": "a cat", "ratio": "1280:720", "duration": 5}, 50),
    ("image_to_video", "gemini_omni_flash", {"prompt_image": URL, "duration": 3}, 3 * 10 + 1),
    ("text_to_video", "wan3", {"prompt_text": "a cat", "ratio": "720:544", "duration": 2}, 2 * 5),
    ("text_to_video", "wan3", {"prompt_text": "a cat", "ratio": "1104:832", "duration": 3}, 3 * 10),
    (
        "image_to_video",
        "wan3",
        {
            "prompt_image": [{"uri": URL, "position": "first"}],
            "prompt_text": "a cat",
            "ratio": "auto_1080p",
            "duration": 2,
        },
        2 * 20,
    ),
    ("text_to_video", "kling3.0_standard", {"ratio": "1280:720", "prompt_text": "a cat", "duration": 5}, 5 * 13),
    ("image_to_video", "kling3.0_pro", {"prompt_image": URL, "duration": 3}, 3 * 17),
    ("text_to_video", "kling3.0_4k", {"ratio": "3840:2160", "prompt_text": "a cat", "duration": 3}, 3 * 44),
    ("text_to_video", "klingO3_standard", {"ratio": "960:960", "prompt_text": "a cat", "duration": 4}, 4 * 12),
    ("image_to_video", "klingO3_pro", {"prompt_image": URL, "duration": 15, "audio": True}, 15 * 14),
    ("video_to_video", "klingO3_pro", {"prompt_text": "a cat", "prompt_video": "https://example.com/in.mp4"}, 30 * 14),
    ("text_to_video", "klingO3_4k", {"prompt_text": "a cat", "ratio": "3840:2160", "duration": 3}, 3 * 44),
    ("text_to_video", "kling2.5_turbo_pro", {"prompt_text": "a cat", "ratio": "720:720", "duration": 10}, 10 * 9.8),
    ("image_to_video", "kling2.5_turbo_pro", {"prompt_image": URL, "prompt_text": "a cat"}, 5 * 9.8),  # 5 s default
    ("text_to_video", "wan3_prime", {"prompt_text": "a cat", "ratio": "832:480", "duration": 10}, 10 * 6.8),
    ("image_to_video", "wan3_prime", {"prompt_image": URL, "prompt_text": "a cat", "ratio": "auto_1080p"}, 30 * 28),
    ("video_to_video", "aleph2", {"video_uri": "https://example.com/in.mp4"}, 30 * 28),  # a URL: 30 s assumed
    ("text_to_video", "h3_max", {"prompt_text": "a cat", "resolution": "480p", "duration": 5}, 5 * 5),
    (
        "image_to_video",
        "h3_max",
        {
            "prompt_image": [{"uri": URL, "position": "first"}, {"uri": URL, "position": "last"}],
            "prompt_text": "a cat",
            "resolution": "768p",
            "duration": 15,
        },
        15 * 8,
    ),
    ("text_to_video", "grok_imagine_1_5_lite", {"prompt_text": "a cat", "ratio": "1904:1072", "duration": 2}, 2 * 14),
    ("image_to_video", "grok_imagine_1_5_lite", {"prompt_image": URL, "ratio": "auto_720p", "duration": 5}, 16),
    # Gemini 1.1: 3.4/s at 360p and 30 at 4K (the guide's range), 10 at 720p and 15 at 1080p (integrators')
    ("text_to_video", "gemini_omni_flash_1.1", {"prompt_text": "a cat", "ratio": "640:360", "duration": 5}, 17),
    (
        "image_to_video",
        "gemini_omni_flash_1.1",
        {"prompt_image": URL, "prompt_text": "a cat", "ratio": "3840:2160", "duration": 3},
        3 * 30 + 1,
    ),
    (
        "video_to_video",
        "gemini_omni_flash_1.1",
        {"prompt_text": "a cat", "video_uri": "https://example.com/in.mp4", "ratio": "1920:1080", "duration": 4},
        4 * 15,
    ),
    # Kling 4: no Runway price; fal's $0.157/s (720p) and $0.235/s (1080p) in whole credits, a stand-in
    ("text_to_video", "kling_4", {"prompt_text": "a cat", "ratio": "2200:940", "duration": 20}, 20 * 24),
    ("image_to_video", "kling_4", {"prompt_image": URL, "ratio": "auto_720p", "duration": 3}, 3 * 16),
    (
        "video_to_video",
        "kling_4",
        {"prompt_text": "snow", "video_uri": "https://example.com/in.mp4", "ratio": "auto_1080p"},
        30 * 24,  # a URL: 30 s assumed, the output follows it
    ),
]


def _clip_uri(tmp_path: Path, seconds: float, size: tuple[int, int] = (320, 180)) -> str:
    from providers.demo import render_video

    path = tmp_path / f"in-{seconds}.mp4"
    render_video(path, prompt="input", duration=seconds, width=size[0], height=size[1], seed=2, fps=12)
    return "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode()


async def _run(client: Any, endpoint: str, model: str, args: dict[str, Any]) -> tuple[float, Any]:
    resource = getattr(client, endpoint)
    created = await resource.create(model=model, **args)
    estimated = created.model_extra["estimatedCost"]["credits"] if created.model_extra else None
    with anyio.fail_after(15):
        task = await client.tasks.retrieve(created.id)
        while task.status not in ("SUCCEEDED", "FAILED"):
            await anyio.sleep(0.05)
            task = await client.tasks.retrieve(created.id)
    return estimated, task


@pytest.mark.parametrize(("endpoint", "model", "args", "credits"), CASES, ids=[f"{c[1]}-{c[0]}" for c in CASES])
async def test_official_sdk_runs_each_model_and_is_charged_the_rate(server, sim, endpoint, model, args, credits):
    import runwayml

    async with runwayml.AsyncRunwayML(api_key=KEY, base_url=f"{server[0]}/runway", max_retries=0) as client:
        estimated, task = await _run(client, endpoint, model, args)
    assert task.status == "SUCCEEDED", task
    assert estimated == pytest.approx(credits) and task.cost.credits == int(credits), (estimated, task.cost)
    video = httpx.get(task.output[0])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


async def test_video_to_video_input_length_is_read_and_priced(server, sim, tmp_path: Path):
    """Data-URI inputs are read with PyAV: aleph2 28/s of input (56 at least), Gemini 11/s of input capped at
    10 s, seedance2_5 the output's rate plus 15/s of input at 720p; the output follows aleph2's input."""
    import runwayml

    from server.media import probe

    three, one, twelve = _clip_uri(tmp_path, 3.0), _clip_uri(tmp_path, 1.0), _clip_uri(tmp_path, 12.0)
    async with runwayml.AsyncRunwayML(api_key=KEY, base_url=f"{server[0]}/runway", max_retries=0) as client:
        estimated, task = await _run(client, "video_to_video", "aleph2", {"video_uri": three, "prompt_text": "snow"})
        assert estimated == pytest.approx(3 * 28) and task.cost.credits == 84
        out = tmp_path / "out.mp4"
        out.write_bytes(httpx.get(task.output[0]).content)
        assert abs(probe(str(out)).duration_seconds - 3.0) < 0.2  # as long as the input
        estimated, _ = await _run(
            client, "video_to_video", "gemini_omni_flash", {"video_uri": one, "prompt_text": "a cat"}
        )
        assert estimated == pytest.approx(11)
        estimated, _ = await _run(
            client, "video_to_video", "gemini_omni_flash", {"video_uri": twelve, "prompt_text": "a cat"}
        )
        assert estimated == pytest.approx(11 * 10)  # input seconds capped at 10
        estimated, _ = await _run(
            client, "video_to_video", "seedance2_5", {"prompt_video": three, "ratio": "1280:720", "duration": 4}
        )
        assert estimated == pytest.approx(4 * 30 + 3 * 15)
        with pytest.raises(runwayml.BadRequestError) as short:  # aleph2's input: 2 to 30 s
            await client.video_to_video.create(model="aleph2", video_uri=one)
        assert short.value.body["issues"][0]["path"] == ["videoUri"]


# -- 3. refusals ----------------------------------------------------------------------------------------

REFUSED: list[tuple[str, dict[str, Any], list[str | int]]] = [
    # an unknown field (the SDK declares none of these for the model)
    ("text_to_video", {"model": "kling3.0_pro", "ratio": "1920:1080", "seed": 1}, []),
    ("text_to_video", {"model": "klingO3_pro", "ratio": "1920:1080", "cfgScale": 0.5}, []),
    ("video_to_video", {"model": "aleph2", "videoUri": "https://example.com/v.mp4", "duration": 5}, []),
    ("image_to_video", {"model": "grok_imagine_1_5", "promptImage": URL, "ratio": "16:9"}, []),
    ("image_to_video", {"model": "seedance2_5", "promptImage": URL, "draftTaskId": "x"}, []),  # t2v only
    # a ratio (or resolution) from another model
    ("text_to_video", {"model": "kling3.0_standard", "ratio": "1920:1080"}, ["ratio"]),
    ("text_to_video", {"model": "seedance2_fast", "promptText": "a cat", "ratio": "1920:1080"}, ["ratio"]),
    ("text_to_video", {"model": "seedance2_5", "ratio": "864:496"}, ["ratio"]),  # seedance2's, not 2.5's
    ("text_to_video", {"model": "grok_imagine_1_5", "promptText": "a cat", "ratio": "1280:720"}, ["ratio"]),
    ("text_to_video", {"model": "hailuo3", "promptText": "a cat", "resolution": "1080p"}, ["resolution"]),
    ("text_to_video", {"model": "hailuo3", "promptText": "a cat", "ratio": "adaptive"}, ["ratio"]),  # text only
    ("text_to_video", {"model": "wan3", "promptText": "a cat", "ratio": "1280:768"}, ["ratio"]),
    (
        "image_to_video",
        {
            "model": "wan3",
            "promptText": "a cat",
            "ratio": "1280:720",
            "promptImage": [{"uri": URL, "position": "first"}],
        },
        ["ratio"],  # keyframes: auto_* only
    ),
    # a duration out of range
    ("text_to_video", {"model": "kling3.0_4k", "ratio": "3840:2160", "duration": 2}, ["duration"]),
    ("text_to_video", {"model": "klingO3_standard", "ratio": "960:960", "duration": 16}, ["duration"]),
    ("text_to_video", {"model": "seedance2_mini", "promptText": "a cat", "duration": 3}, ["duration"]),
    ("text_to_video", {"model": "seedance2_5", "duration": 31}, ["duration"]),
    ("text_to_video", {"model": "hailuo3", "promptText": "a cat", "duration": 4}, ["duration"]),
    ("text_to_video", {"model": "grok_imagine_1_5", "promptText": "a cat", "duration": 16}, ["duration"]),
    ("image_to_video", {"model": "happyhorse_1_0", "promptImage": URL, "duration": 2}, ["duration"]),
    ("text_to_video", {"model": "gemini_omni_flash", "promptText": "a cat", "duration": 11}, ["duration"]),
    ("text_to_video", {"model": "wan3", "promptText": "a cat", "duration": 31}, ["duration"]),
    ("text_to_video", {"model": "kling3.0_standard", "ratio": "960:960", "duration": "auto"}, ["duration"]),
    # a missing required field
    ("text_to_video", {"model": "kling3.0_standard", "promptText": "a cat"}, ["ratio"]),
    ("image_to_video", {"model": "hailuo3", "promptImage": URL}, ["promptText"]),
    ("image_to_video", {"model": "wan3", "promptImage": URL}, ["promptText"]),
    ("video_to_video", {"model": "klingO3_pro", "promptVideo": "https://example.com/v.mp4"}, ["promptText"]),
    ("video_to_video", {"model": "gemini_omni_flash", "promptText": "a cat"}, ["videoUri"]),
    ("video_to_video", {"model": "aleph2", "promptText": "a cat"}, ["videoUri"]),
    ("text_to_video", {"model": "happyhorse_1_0", "duration": 5}, ["promptText"]),
    # a last frame where only a first is allowed; keyframes Kling requires a position for
    ("image_to_video", {"model": "gemini_omni_flash", "promptImage": [{"uri": URL, "position": "last"}]}, None),
    ("image_to_video", {"model": "grok_imagine_1_5", "promptImage": [{"uri": URL, "position": "last"}]}, None),
    ("image_to_video", {"model": "happyhorse_1_0", "promptImage": [{"uri": URL, "position": "last"}]}, None),
    ("image_to_video", {"model": "kling3.0_pro", "promptImage": [{"uri": URL}]}, ["promptImage", 0, "position"]),
    ("image_to_video", {"model": "klingO3_pro", "promptImage": [{"uri": URL, "position": "last"}]}, ["promptImage"]),
    # the four added 2026-12-06: a field, ratio, length or mode the SDK does not give them
    ("text_to_video", {"model": "h3_max", "promptText": "a cat", "ratio": "16:9"}, []),
    ("text_to_video", {"model": "h3_max", "promptText": "a cat", "duration": 4}, ["duration"]),
    (
        "text_to_video",
        {"model": "h3_max", "promptText": "a cat", "promptExpansionMode": "max"},
        ["promptExpansionMode"],
    ),
    ("image_to_video", {"model": "h3_max", "promptImage": URL}, ["promptText"]),
    ("image_to_video", {"model": "grok_imagine_1_5_lite", "promptImage": URL, "ratio": "1280:720"}, ["ratio"]),
    ("text_to_video", {"model": "grok_imagine_1_5_lite", "promptText": "a cat", "duration": 16}, ["duration"]),
    ("text_to_video", {"model": "kling_4", "promptText": "a cat", "duration": 31}, ["duration"]),
    ("image_to_video", {"model": "kling_4", "promptImage": URL, "ratio": "1280:720"}, ["ratio"]),
    ("text_to_video", {"model": "gemini_omni_flash_1.1", "promptText": "a cat", "ratio": "1280:768"}, ["ratio"]),
    ("image_to_video", {"model": "gemini_omni_flash_1.1", "promptImage": URL}, ["promptText"]),
    # a model on an endpoint the SDK does not declare it for
    ("text_to_video", {"model": "aleph2", "promptText": "a cat"}, ["model"]),
    ("video_to_video", {"model": "kling3.0_pro", "promptText": "a cat", "promptVideo": URL}, ["model"]),
]


@pytest.mark.parametrize(("endpoint", "body", "path"), REFUSED)
async def test_simulator_refuses_what_the_sdk_does_not_allow(server, sim, endpoint, body, path):
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway", headers=HEADERS) as http:
        answer = await http.post(f"/v1/{endpoint}", json=body)
    assert answer.status_code == 400, answer.json()
    reply = answer.json()
    assert reply["error"] and isinstance(reply["issues"], list)
    paths = [issue["path"] for issue in reply["issues"]]
    assert paths == [path if path is not None else ["promptImage", 0, "position"]], paths
    assert sim.submissions == 0


# -- 4. per-model reference typing, image counts and image sizes, as the SDK types and words them ---------------


def _typed_items() -> dict[tuple[str, str, str], bool]:
    """(endpoint, model, referenceVideos | referenceAudio) -> whether the SDK's item type carries a `type` literal
    ({uri, type} TypedDicts: True; {uri} TypedDicts or bare `object`: False)."""
    import typing

    found = {}
    for endpoint, models in _sdk_models().items():
        for model, fields in models.items():
            for field in ("referenceVideos", "referenceAudio"):
                if field in fields:
                    (item,) = typing.get_args(fields[field][0])
                    hints = {} if item is object else typing.get_type_hints(item)
                    found[endpoint, model, field] = "type" in hints
    return found


def test_reference_items_need_a_type_exactly_where_the_sdk_types_one():
    typed = _typed_items()
    assert typed["text_to_video", "gemini_omni_flash_1.1", "referenceVideos"] is False  # {uri}
    assert typed["text_to_video", "kling_4", "referenceVideos"] is False  # `object`
    assert typed["text_to_video", "seedance2", "referenceVideos"] is True
    for (endpoint, model, field), needs_type in typed.items():
        shape = SIMULATED[model].shapes[endpoint]
        assert (field not in shape.untyped_references) == needs_type, (endpoint, model, field)
    for model, rules in SIMULATED.items():  # nothing marked untyped that the SDK does not declare
        for endpoint, shape in rules.shapes.items():
            assert all((endpoint, model, f) in typed for f in shape.untyped_references), (model, endpoint)


VIDEO_URL = "https://example.com/ref.mp4"
REFERENCED: list[tuple[str, dict[str, Any], int, list[str | int] | None]] = [
    # untyped items: {uri} is all the SDK gives them
    ("text_to_video", {"model": "gemini_omni_flash_1.1", "referenceVideos": [{"uri": VIDEO_URL}]}, 200, None),
    ("text_to_video", {"model": "kling_4", "referenceVideos": [{"uri": VIDEO_URL}]}, 200, None),
    ("image_to_video", {"model": "kling_4", "promptImage": URL, "referenceVideos": [{"uri": VIDEO_URL}]}, 200, None),
    # typed items still need their `type`
    (
        "text_to_video",
        {"model": "seedance2", "referenceVideos": [{"uri": VIDEO_URL}]},
        400,
        ["referenceVideos", 0, "type"],
    ),
    (
        "text_to_video",
        {"model": "wan3", "referenceAudio": [{"uri": "https://example.com/a.mp3"}]},
        400,
        ["referenceAudio", 0, "type"],
    ),
    ("text_to_video", {"model": "seedance2", "referenceVideos": [{"uri": VIDEO_URL, "type": "video"}]}, 200, None),
    # kling_4: "Up to 5 videos"
    ("text_to_video", {"model": "kling_4", "referenceVideos": [{"uri": VIDEO_URL}] * 6}, 400, ["referenceVideos"]),
    # kling_4: "Up to 10 images in total, frames included."
    (
        "image_to_video",
        {
            "model": "kling_4",
            "promptImage": [{"uri": URL, "position": "first"}, {"uri": URL, "position": "last"}],
            "references": [{"uri": URL}] * 9,
        },
        400,
        ["references"],
    ),
    (
        "image_to_video",
        {"model": "kling_4", "promptImage": URL, "references": [{"uri": URL}] * 10},
        400,
        ["references"],
    ),
    (
        "image_to_video",
        {
            "model": "kling_4",
            "promptImage": [{"uri": URL, "position": "first"}, {"uri": URL, "position": "last"}],
            "references": [{"uri": URL}] * 8,
        },
        200,
        None,
    ),
    ("image_to_video", {"model": "kling_4", "promptImage": URL, "references": [{"uri": URL}] * 9}, 200, None),
]


@pytest.mark.parametrize(("endpoint", "body", "status", "path"), REFERENCED)
async def test_references_are_typed_and_counted_per_model(server, sim, endpoint, body, status, path):
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway", headers=HEADERS) as http:
        answer = await http.post(f"/v1/{endpoint}", json={"promptText": "a cat", **body})
    assert answer.status_code == status, answer.json()
    if path is not None:
        assert [issue["path"] for issue in answer.json()["issues"]] == [path]


def _png_uri(width: int, height: int) -> str:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _frames(*uris: str) -> list[dict[str, str]]:
    return [{"uri": uri, "position": position} for uri, position in zip(uris, ("first", "last"), strict=False)]


SIZED: list[tuple[str, Any, list[str | int] | None]] = [
    # h3_max: "Each image must be at least 256 pixels on both sides"
    ("h3_max", _png_uri(320, 180), ["promptImage"]),
    ("h3_max", _png_uri(256, 256), None),
    ("h3_max", _frames(_png_uri(512, 288), _png_uri(255, 400)), ["promptImage", 1, "uri"]),
    ("h3_max", _frames(_png_uri(512, 288), _png_uri(256, 400)), None),
    ("h3_max", _frames(URL, URL), None),  # https: fetched by Runway, not checked here
    # Grok Imagine 1.5 (Lite): "(width / height) must be between 0.4 and 2.5"
    ("grok_imagine_1_5_lite", _png_uri(300, 100), ["promptImage"]),
    ("grok_imagine_1_5_lite", _png_uri(100, 300), ["promptImage"]),
    ("grok_imagine_1_5_lite", [{"uri": _png_uri(260, 100), "position": "first"}], ["promptImage", 0, "uri"]),
    ("grok_imagine_1_5_lite", _png_uri(250, 100), None),  # 2.5: the bound is allowed
    ("grok_imagine_1_5_lite", _png_uri(100, 250), None),  # 0.4
    ("grok_imagine_1_5", _png_uri(300, 100), ["promptImage"]),
    ("grok_imagine_1_5", _png_uri(320, 180), None),
]


@pytest.mark.parametrize(("model", "image", "path"), SIZED, ids=[f"{c[0]}-{i}" for i, c in enumerate(SIZED)])
async def test_data_uri_images_are_held_to_the_sdk_size_and_shape_rules(server, sim, model, image, path):
    body = {"model": model, "promptImage": image, "promptText": "a cat"}
    async with httpx.AsyncClient(base_url=f"{server[0]}/runway", headers=HEADERS) as http:
        answer = await http.post("/v1/image_to_video", json=body)
    if path is None:
        assert answer.status_code == 200, answer.json()
        return
    assert answer.status_code == 400, answer.json()
    issues = answer.json()["issues"]
    assert [issue["path"] for issue in issues] == [path], issues
    assert ("256 pixels" if model == "h3_max" else "between 0.4 and 2.5") in issues[0]["message"]
    assert sim.submissions == 0


def test_image_rules_follow_the_sdk_docstrings():
    """Which models' promptImage docstrings state a least side or an aspect-ratio range: exactly those the
    simulator checks, with the SDK's figures."""
    import inspect
    import typing

    from runwayml.types import image_to_video_create_params as params

    least, ratio = {}, {}
    for cls in typing.get_args(params.ImageToVideoCreateParams):
        (model,) = typing.get_args(typing.get_type_hints(cls)["model"])
        text = " ".join(inspect.getsource(cls).split())
        if "Each image must be at least 256 pixels on both sides" in text:
            least[model] = 256
        if "which (width / height) must be between 0.4 and 2.5" in text:
            ratio[model] = (0.4, 2.5)
    assert least == {"h3_max": 256} and set(ratio) == {"grok_imagine_1_5", "grok_imagine_1_5_lite"}
    assert {m: r.image_min_side for m, r in SIMULATED.items() if r.image_min_side} == least
    assert {m: r.image_ratio for m, r in SIMULATED.items() if r.image_ratio} == ratio
    assert "Up to 10 images in total, frames included" in " ".join(inspect.getsource(params.Kling4).split())
    assert SIMULATED["kling_4"].shapes["image_to_video"].max_images == 10
