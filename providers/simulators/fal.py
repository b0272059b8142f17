"""A local fal.ai queue: the routes, shapes and statuses of queue.fal.run for the video endpoints we use.

  POST /{owner}/{alias}[/{subpath}]              submit -> {request_id, response_url, status_url, cancel_url}
  GET  /{owner}/{alias}/requests/{id}/status     IN_QUEUE (queue_position) | IN_PROGRESS (logs) | COMPLETED
  GET  /{owner}/{alias}/requests/{id}            the model's output {"video": File}, or its error
  PUT  /{owner}/{alias}/requests/{id}/cancel     202 CANCELLATION_REQUESTED | 400 ALREADY_COMPLETED | 404

Auth is `Authorization: Key <key>`. Inputs are validated per endpoint the way fal's apps do (pydantic:
422 {"detail": [{loc, msg, type}]}). Test switches at POST /_sim/config:
  {"key": "..."}          only this key is accepted (default: any)
  {"balance": 0}          the account is locked: 403 "User is locked. Reason: Exhausted balance"
  {"rate_limit": N, "retry_after": S, "on": "POST"}   the next N calls (of that method) get 429
  {"server_errors": N, "error_status": 500, "retryable": true, "on": "GET"}   the next N calls fail
  {"status_errors": false}  COMPLETED statuses omit error/error_type (the result still carries it)
  {"webhook_payload_error": true}  webhooks carry payload null + payload_error (an unserialisable result)
A submit with `?fal_webhook=<url>` gets one webhook when the request ends: {request_id, gateway_request_id,
status: "OK", payload: <the result>} or {..., status: "ERROR", error: "Invalid status code: N", payload: <the
error body>}, tried again up to 10 times over 2 hours (simulated time) until answered with a 2xx.
The catalogue, for endpoints beyond the adapter's (EXTRA: Kling 2.1 standard, Seedance 1.0, Wan 2.2 A14B, FLUX):
  GET /api/openapi/queue/openapi.json?endpoint_id=   fal.ai's queue OpenAPI document (public; 404 unknown)
  GET /v1/models?q=&category=&status=&endpoint_id=   api.fal.ai's model search (key optional; a bad one 401)
  GET /v1/models/pricing?endpoint_id=                 api.fal.ai's prices (Key auth, else 401; 404 unknown)
  with switches {"schema_errors": N} (the next N schema reads answer 503) and counters schema_reads,
  pricing_reads in sim.config.
A cancelled request is COMPLETED with error_type "client_cancelled" and its result is 499 {"detail",
"error_type": "client_cancelled"} (fal's request errors: client_cancelled, HTTP 499). "sim:fail=<error_type>"
ends a job with one of fal's request errors (REQUEST_ERRORS: runner_server_error, startup_timeout, ...).
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.simulators.common import SimJob, Simulator, public_root, sample_video, video_url

Problem = tuple[str, str]  # (msg, type) in pydantic's words
Check = Callable[[Any], Problem | None]


def one_of(*allowed: Any) -> Check:
    def check(value: Any) -> Problem | None:
        if any(value == a and type(value) is type(a) for a in allowed):
            return None
        names = [repr(a) if isinstance(a, str) else str(a) for a in allowed]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        return f"Input should be {listed}", "literal_error"

    return check


def text(max_chars: int, max_bytes: int = 0) -> Check:
    """A string of at most `max_chars` characters and, where the schema says so, `max_bytes` UTF-8 bytes
    (PixVerse: "Limited to 2048 UTF-8 encoded bytes"), refused the way a pydantic validator refuses it."""

    def check(value: Any) -> Problem | None:
        if not isinstance(value, str):
            return "Input should be a valid string", "string_type"
        if len(value) > max_chars:
            return f"String should have at most {max_chars} characters", "string_too_long"
        if max_bytes and len(value.encode("utf-8")) > max_bytes:
            return f"Value error, must be at most {max_bytes} UTF-8 encoded bytes", "value_error"
        return None

    return check


def flag(value: Any) -> Problem | None:
    return None if isinstance(value, bool) else ("Input should be a valid boolean", "bool_type")


def number(low: float, high: float) -> Check:
    def check(value: Any) -> Problem | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "Input should be a valid number", "float_type"
        if value < low:
            return f"Input should be greater than or equal to {low:g}", "greater_than_equal"
        if value > high:
            return f"Input should be less than or equal to {high:g}", "less_than_equal"
        return None

    return check


def integer(value: Any, high: int = 2**32 - 1) -> Problem | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high
    return None if ok else (f"Input should be a valid integer between 0 and {high}", "int_type")


def seconds(low: int, high: int) -> Check:
    """An integer duration (Wan 2.7, LTX, PixVerse v6 take `duration` as a number)."""
    return one_of(*range(low, high + 1))


def image(value: Any) -> Problem | None:
    """fal downloads URLs itself; its client also sends data URIs for files."""
    if isinstance(value, str) and value.startswith(("https://", "http://", "data:image/")):
        return None
    return "Input should be a valid URL, scheme should be 'http' or 'https'", "url_parsing"


def url(value: Any) -> Problem | None:
    """A file fal downloads itself (an audio track): an http(s) URL."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return None
    return "Input should be a valid URL, scheme should be 'http' or 'https'", "url_parsing"


@dataclass(frozen=True)
class F:
    check: Check
    required: bool = False
    default: Any = None


PROMPT = F(text(2500), required=True)
NEGATIVE = F(text(2500))
SEED = F(integer)
START = F(image, required=True)
END = F(image)
AUDIO = F(flag, default=True)
KLING_DURATION = F(one_of("5", "10"), default="5")
KLING_RATIO = F(one_of("16:9", "9:16", "1:1"), default="16:9")
KLING_V3_DURATION = F(one_of(*(str(s) for s in range(3, 16))), default="5")
KLING_V3 = {  # fal-ai/kling-video/v3/{standard,pro}/*: multi_prompt, shot_type and elements are not modelled
    "prompt": F(text(2500)),
    "duration": KLING_V3_DURATION,
    "generate_audio": AUDIO,
    "negative_prompt": NEGATIVE,
    "cfg_scale": F(number(0, 1)),
}
KLING_O3 = {"prompt": F(text(2500)), "duration": KLING_V3_DURATION, "generate_audio": F(flag, default=False)}
# fal-ai/kling-video/o3/{standard,pro,4k}/*: one input type per mode across the tiers (O3ProTextToVideoInput,
# O3ProImageToVideoInput in fal-js endpoints.ts): no negative_prompt, no cfg_scale; image-to-video takes image_url
# (not start_image_url) and no aspect_ratio. multi_prompt and shot_type are not modelled.
KLING_O3_TEXT = {**KLING_O3, "aspect_ratio": KLING_RATIO}
KLING_O3_IMAGE = {**KLING_O3, "image_url": START, "end_image_url": END}
VEO = {
    "prompt": F(text(20000), required=True),
    "duration": F(one_of("4s", "6s", "8s"), default="8s"),
    "resolution": F(one_of("720p", "1080p", "4k"), default="720p"),
    "generate_audio": AUDIO,
    "negative_prompt": NEGATIVE,
    "seed": SEED,
}
WAN = {  # the Aug-2026 types: prompt "max 1500 characters", negative prompt "Max 500 characters"
    "prompt": F(text(1500), required=True),
    "duration": F(one_of("5", "10"), default="5"),
    "resolution": F(one_of("480p", "720p", "1080p"), default="1080p"),
    "negative_prompt": F(text(500)),
    "seed": SEED,
    "enable_prompt_expansion": F(flag),
}
# wan/v2.6/image-to-video and its /flash (ImageToVideoInput, ImageToVideoFlashInput in fal-js endpoints.ts):
# prompt "Max 1500 characters", negative prompt "Max 500 characters", duration "5" | "10" | "15", 720p | 1080p
# (default 1080p); only the flash endpoint has generate_audio (default true; silent is half price).
WAN_26 = {
    "prompt": F(text(1500), required=True),
    "image_url": START,
    "duration": F(one_of("5", "10", "15"), default="5"),
    "resolution": F(one_of("720p", "1080p"), default="1080p"),
    "negative_prompt": F(text(500)),
    "seed": SEED,
    "enable_prompt_expansion": F(flag),
    "enable_safety_checker": F(flag),
    "multi_shots": F(flag),
    "audio_url": F(url),
}
WAN_27 = {
    "prompt": F(text(5000), required=True),
    "duration": F(seconds(2, 15), default=5),
    "resolution": F(one_of("720p", "1080p"), default="1080p"),
    "negative_prompt": F(text(500)),
    "seed": F(lambda value: integer(value, 2**31 - 1)),
    "enable_prompt_expansion": F(flag),
}
HAILUO = {
    "prompt": F(text(2000), required=True),
    "duration": F(one_of("6", "10"), default="6"),
    "prompt_optimizer": F(flag),
}
LUMA = {
    "prompt": PROMPT,
    "aspect_ratio": F(one_of("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"), default="16:9"),
    "resolution": F(one_of("540p", "720p", "1080p"), default="540p"),
    "duration": F(one_of("5s", "9s"), default="5s"),
    "loop": F(flag),
}
LTX = {
    "prompt": PROMPT,
    "duration": F(one_of(6, 8, 10), default=6),
    "resolution": F(one_of("1080p", "1440p", "2160p"), default="1080p"),
    "fps": F(one_of(24, 25, 48, 50), default=25),
    "generate_audio": AUDIO,
}
SEEDANCE = {
    "prompt": PROMPT,
    "duration": F(one_of("auto", *(str(s) for s in range(4, 16))), default="auto"),
    "resolution": F(one_of("480p", "720p", "1080p", "4k"), default="720p"),
    "aspect_ratio": F(one_of("auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"), default="auto"),
    "generate_audio": AUDIO,
}
PIKA = {
    "prompt": PROMPT,
    "resolution": F(one_of("720p", "1080p"), default="720p"),
    "duration": F(one_of(5, 10), default=5),
    "negative_prompt": NEGATIVE,
    "seed": SEED,
}
PIXVERSE_TEXT = F(text(2500, max_bytes=2048), required=True)  # "Limited to 2048 UTF-8 encoded bytes"
PIXVERSE_RATIO = F(one_of("16:9", "4:3", "1:1", "3:4", "9:16"), default="16:9")
PIXVERSE = {
    "prompt": PIXVERSE_TEXT,
    "resolution": F(one_of("360p", "540p", "720p", "1080p"), default="720p"),
    "duration": F(one_of("5", "8"), default="5"),
    "negative_prompt": F(text(2500, max_bytes=2048)),
    "style": F(one_of("anime", "3d_animation", "clay", "comic", "cyberpunk")),
    "seed": SEED,
}
PIXVERSE_55 = {
    **PIXVERSE,
    "duration": F(one_of("5", "8", "10"), default="5"),
    "generate_audio_switch": F(flag),
    "generate_multi_clip_switch": F(flag),
    "thinking_type": F(one_of("enabled", "disabled", "auto")),
}
PIXVERSE_6 = {**PIXVERSE_55, "duration": F(seconds(1, 15), default=5)}

# Endpoint -> its input fields, from fal's generated types (fal-ai/fal-js libs/client/src/types/endpoints.ts).
# fal's apps ignore fields their schema does not name; the simulator does too, and records them (job.extra
# "ignored") so a test can prove the adapter sends none.
ENDPOINTS: dict[str, dict[str, F]] = {
    "fal-ai/kling-video/v2.6/pro/text-to-video": {
        "prompt": PROMPT,
        "duration": KLING_DURATION,
        "aspect_ratio": KLING_RATIO,
        "negative_prompt": NEGATIVE,
        "cfg_scale": F(number(0, 1)),
        "generate_audio": AUDIO,
    },
    "fal-ai/kling-video/v2.6/pro/image-to-video": {  # no cfg_scale, no aspect_ratio (KlingVideoV26ProImageToVideoInput)
        "prompt": PROMPT,
        "start_image_url": START,
        "end_image_url": END,
        "duration": KLING_DURATION,
        "negative_prompt": NEGATIVE,
        "generate_audio": AUDIO,
        "voice_ids": F(lambda v: None if isinstance(v, list) else ("Input should be a valid list", "list_type")),
    },
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": {
        "prompt": PROMPT,
        "image_url": START,
        "tail_image_url": END,
        "duration": KLING_DURATION,
        "negative_prompt": NEGATIVE,
        "cfg_scale": F(number(0, 1)),
    },
    "fal-ai/kling-video/v3/standard/text-to-video": {**KLING_V3, "aspect_ratio": KLING_RATIO},
    "fal-ai/kling-video/v3/pro/text-to-video": {**KLING_V3, "aspect_ratio": KLING_RATIO},
    "fal-ai/kling-video/v3/standard/image-to-video": {**KLING_V3, "start_image_url": START, "end_image_url": END},
    "fal-ai/kling-video/v3/pro/image-to-video": {**KLING_V3, "start_image_url": START, "end_image_url": END},
    "fal-ai/kling-video/o3/standard/text-to-video": KLING_O3_TEXT,
    "fal-ai/kling-video/o3/standard/image-to-video": KLING_O3_IMAGE,
    "fal-ai/kling-video/o3/pro/text-to-video": KLING_O3_TEXT,
    "fal-ai/kling-video/o3/pro/image-to-video": KLING_O3_IMAGE,
    "fal-ai/kling-video/o3/4k/text-to-video": KLING_O3_TEXT,
    "fal-ai/kling-video/o3/4k/image-to-video": KLING_O3_IMAGE,
    "fal-ai/veo3.1": {**VEO, "aspect_ratio": F(one_of("16:9", "9:16"), default="16:9")},
    "fal-ai/veo3.1/image-to-video": {**VEO, "image_url": START, "aspect_ratio": F(one_of("auto", "16:9", "9:16"))},
    "fal-ai/veo3.1/first-last-frame-to-video": {
        **VEO,
        "first_frame_url": START,
        "last_frame_url": F(image, required=True),
        "aspect_ratio": F(one_of("auto", "16:9", "9:16")),
    },
    "fal-ai/veo3.1/fast": {**VEO, "aspect_ratio": F(one_of("16:9", "9:16"), default="16:9")},
    "fal-ai/veo3.1/fast/image-to-video": {
        **VEO,
        "image_url": START,
        "aspect_ratio": F(one_of("auto", "16:9", "9:16")),
    },
    "fal-ai/veo3.1/fast/first-last-frame-to-video": {
        **VEO,
        "first_frame_url": START,
        "last_frame_url": F(image, required=True),
        "aspect_ratio": F(one_of("auto", "16:9", "9:16")),
    },
    "fal-ai/wan-25-preview/text-to-video": {**WAN, "aspect_ratio": F(one_of("16:9", "9:16", "1:1"), default="16:9")},
    "fal-ai/wan-25-preview/image-to-video": {**WAN, "image_url": START},
    "wan/v2.6/image-to-video": WAN_26,
    "wan/v2.6/image-to-video/flash": {**WAN_26, "generate_audio": AUDIO},
    "fal-ai/wan/v2.7/text-to-video": {
        **WAN_27,
        "aspect_ratio": F(one_of("16:9", "9:16", "1:1", "4:3", "3:4"), default="16:9"),
    },
    "fal-ai/wan/v2.7/image-to-video": {**WAN_27, "image_url": END, "end_image_url": END},
    "fal-ai/minimax/hailuo-02/standard/text-to-video": HAILUO,
    "fal-ai/minimax/hailuo-02/standard/image-to-video": {
        **HAILUO,
        "image_url": START,
        "end_image_url": END,
        "resolution": F(one_of("512P", "768P"), default="768P"),
    },
    "fal-ai/minimax/hailuo-2.3/standard/text-to-video": HAILUO,
    "fal-ai/minimax/hailuo-2.3/standard/image-to-video": {**HAILUO, "image_url": START},
    "fal-ai/luma-dream-machine/ray-2": LUMA,
    "fal-ai/luma-dream-machine/ray-2/image-to-video": {**LUMA, "image_url": END, "end_image_url": END},
    "fal-ai/luma-dream-machine/ray-2-flash": LUMA,
    "fal-ai/luma-dream-machine/ray-2-flash/image-to-video": {**LUMA, "image_url": END, "end_image_url": END},
    "fal-ai/ltx-2.3/text-to-video": {**LTX, "aspect_ratio": F(one_of("16:9", "9:16"), default="16:9")},
    "fal-ai/ltx-2.3/image-to-video": {
        **LTX,
        "image_url": START,
        "end_image_url": END,
        "aspect_ratio": F(one_of("auto", "16:9", "9:16"), default="auto"),
    },
    "bytedance/seedance-2.0/text-to-video": SEEDANCE,
    "bytedance/seedance-2.0/image-to-video": {**SEEDANCE, "image_url": START, "end_image_url": END},
    "fal-ai/pika/v2.2/text-to-video": {
        **PIKA,
        "aspect_ratio": F(one_of("16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3"), default="16:9"),
    },
    "fal-ai/pika/v2.2/image-to-video": {**PIKA, "image_url": START},
    "fal-ai/pixverse/v5/text-to-video": {**PIXVERSE, "aspect_ratio": PIXVERSE_RATIO},
    "fal-ai/pixverse/v5/image-to-video": {**PIXVERSE, "image_url": START},
    "fal-ai/pixverse/v5.5/text-to-video": {**PIXVERSE_55, "aspect_ratio": PIXVERSE_RATIO},
    "fal-ai/pixverse/v5.5/image-to-video": {**PIXVERSE_55, "image_url": START},
    "fal-ai/pixverse/v6/text-to-video": {
        **PIXVERSE_6,
        "aspect_ratio": F(one_of("16:9", "4:3", "1:1", "3:4", "9:16", "2:3", "3:2", "21:9"), default="16:9"),
    },
    "fal-ai/pixverse/v6/image-to-video": {**PIXVERSE_6, "image_url": START},
}
# The 1080p limits PixVerse states in its duration descriptions.
PIXVERSE_1080P = {"fal-ai/pixverse/v5/": ("5",), "fal-ai/pixverse/v5.5/": ("5", "8")}

# fal's request error types (docs: model-apis/request-errors) that "sim:fail=<type>" makes a job end with:
# (HTTP status, detail). Any other failure is a model's internal_server_error.
REQUEST_ERRORS: dict[str, tuple[int, str]] = {
    "internal_server_error": (500, "Internal server error"),
    "runner_server_error": (500, "The runner returned a server error"),
    "startup_timeout": (504, "The runner did not start in time"),
    "request_timeout": (504, "Request timed out"),
    "runner_scheduling_failure": (503, "No runner could be allocated"),
    "runner_connection_timeout": (503, "The connection to the runner timed out"),
    "runner_connection_refused": (503, "The runner refused the connection"),
    "runner_disconnected": (503, "The runner disconnected"),
    "runner_incomplete_response": (502, "The runner's response was incomplete"),
}
IMAGE_LOAD_MESSAGE = "Failed to load the image. Please ensure the image file is not corrupted and is accessible."
CONTENT_MESSAGE = "The content could not be processed because it contained material flagged by a content checker."
CANCELLED_MESSAGE = "Request cancelled by the client."
QUEUE_AHEAD = 3  # a new request starts with this many ahead of it, counting down to 0
WEBHOOK_ATTEMPTS, WEBHOOK_SPACING = 11, 720.0  # the first try, then 10 retries spread over 2 hours
PAYLOAD_ERROR = (
    "Response payload is not JSON serializable. Either return a JSON serializable object or use the queue "
    "endpoint to retrieve the response."
)


def problems(endpoint: str, payload: Any) -> list[dict[str, Any]]:
    """fal's 422 detail items for a payload: missing fields, wrong types, values outside a Literal."""
    if not isinstance(payload, dict):
        return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    found = []
    for name, spec in ENDPOINTS[endpoint].items():
        if name not in payload or payload[name] is None:
            if spec.required:
                found.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
            continue
        if problem := spec.check(payload[name]):
            found.append({"loc": ["body", name], "msg": problem[0], "type": problem[1], "input": payload[name]})
    allowed = next((d for prefix, d in PIXVERSE_1080P.items() if endpoint.startswith(prefix)), None)
    if not found and allowed and payload.get("resolution") == "1080p" and payload.get("duration", "5") not in allowed:
        what = " or ".join(allowed)
        found.append(
            {"loc": ["body", "duration"], "msg": f"1080p videos are limited to {what} seconds", "type": "value_error"}
        )
    return found


def error_kind(job: SimJob) -> str:
    return job.fail if job.fail in REQUEST_ERRORS else "internal_server_error"


def verdict(job: SimJob, phase: str) -> tuple[str, str]:
    """(error, error_type) of a request that did not succeed, as its COMPLETED status carries them."""
    if phase == "cancelled":
        return CANCELLED_MESSAGE, "client_cancelled"
    if job.fail == "content":
        return CONTENT_MESSAGE, "content_policy_violation"
    if job.fail == "image_load_error":  # a model error: the start image URL could not be fetched or decoded
        return IMAGE_LOAD_MESSAGE, "image_load_error"
    kind = error_kind(job)
    return REQUEST_ERRORS[kind][1], kind


def seconds_of(value: Any) -> float:
    """A duration field's seconds: "5", "5s" or 5; Seedance's "auto" lets the model choose (here 5 s)."""
    return 5.0 if value == "auto" else float(str(value).rstrip("s"))


# -- the catalogue: models fal publishes beyond the ones the adapter declares ---------------------------
# What fal.ai publishes for an endpoint, as its queue OpenAPI document
# (https://fal.ai/api/openapi/queue/openapi.json?endpoint_id=...: components.schemas.<Name>Input/Output,
# POST /{endpoint} and GET /{endpoint}/requests/{request_id}), its Platform API entry (GET
# https://api.fal.ai/v1/models: {endpoint_id, metadata}) and its price (GET /v1/models/pricing: {endpoint_id,
# unit_price, unit, currency}). Field names and limits from the endpoints' published types (fal-js
# endpoints.ts); prices as fal's model pages state them, in the pricing API's units.


def _s(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def _optional(rule: dict[str, Any]) -> dict[str, Any]:
    """pydantic's Optional[X] as fal's documents publish it: anyOf [X, null]."""
    return {"anyOf": [rule, {"type": "null"}], **{k: rule[k] for k in ("description", "title") if k in rule}}


KLING_21_PROPS: dict[str, Any] = {
    "prompt": _s("The prompt for the video", maxLength=2500),
    "duration": {"enum": ["5", "10"], "type": "string", "default": "5", "description": "The duration in seconds"},
    "negative_prompt": _s("What to avoid", maxLength=2500, default="blur, distort, and low quality"),
    "cfg_scale": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5, "description": "CFG scale"},
}
SEEDANCE_V1 = {
    "resolution": {
        "enum": ["480p", "720p", "1080p"],
        "type": "string",
        "default": "720p",
        "description": "Video resolution",
    },
    "duration": {"enum": [str(s) for s in range(2, 13)], "type": "string", "default": "5", "description": "Seconds"},
    "camera_fixed": {"type": "boolean", "default": False, "description": "Whether to fix the camera position"},
    "seed": _optional({"type": "integer", "description": "Random seed; -1 for random"}),
    "enable_safety_checker": {"type": "boolean", "default": True, "description": "Enable the safety checker"},
}
IMAGE_URL = _s("URL of the image to use as the first frame", format="uri")
EXTRA: dict[str, dict[str, Any]] = {
    "fal-ai/kling-video/v2.1/standard/text-to-video": {
        "title": "Kling 2.1 (standard) Text to Video",
        "category": "text-to-video",
        "description": "Kling 2.1 Standard: cost-efficient text to video, 5 or 10 s.",
        "properties": {
            **KLING_21_PROPS,
            "aspect_ratio": {
                "enum": ["16:9", "9:16", "1:1"],
                "type": "string",
                "default": "16:9",
                "description": "Aspect ratio",
            },
        },
        "required": ["prompt"],
        "price": (0.05, "second"),
    },
    "fal-ai/kling-video/v2.1/standard/image-to-video": {
        "title": "Kling 2.1 (standard) Image to Video",
        "category": "image-to-video",
        "description": "Kling 2.1 Standard: animates a start image, 5 or 10 s.",
        "properties": {**KLING_21_PROPS, "image_url": IMAGE_URL},
        "required": ["prompt", "image_url"],
        "price": (0.05, "second"),
    },
    "fal-ai/bytedance/seedance/v1/lite/text-to-video": {
        "title": "Seedance 1.0 Lite Text to Video",
        "category": "text-to-video",
        "description": "ByteDance Seedance 1.0 Lite: text to video, 480p to 1080p, 2 to 12 s.",
        "properties": {
            "prompt": _s("The text prompt used to generate the video"),
            "aspect_ratio": {
                "enum": ["21:9", "16:9", "4:3", "1:1", "3:4", "9:16", "9:21"],
                "type": "string",
                "default": "16:9",
                "description": "The aspect ratio of the generated video",
            },
            **SEEDANCE_V1,
        },
        "required": ["prompt"],
        "price": (0.18, "video"),
    },
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": {
        "title": "Seedance 1.0 Pro Image to Video",
        "category": "image-to-video",
        "description": "ByteDance Seedance 1.0 Pro: a start (and end) image to video; billed by video tokens.",
        "properties": {
            "prompt": _s("The text prompt used to generate the video"),
            "image_url": IMAGE_URL,
            "end_image_url": _optional(_s("URL of the image the video ends with", format="uri")),
            **SEEDANCE_V1,
        },
        "required": ["prompt", "image_url"],
        "price": (2.5, "1m tokens"),  # fal bills Seedance per million video tokens
    },
    "fal-ai/wan/v2.2-a14b/text-to-video": {
        "title": "Wan 2.2 A14B Text to Video",
        "category": "text-to-video",
        "description": "Wan 2.2 A14B: text to video at 480p, 580p or 720p, 81 frames by default.",
        "properties": {
            "prompt": _s("The text prompt to guide video generation"),
            "negative_prompt": _s("Negative prompt, max 500 characters", default="", maxLength=500),
            "num_frames": {"type": "integer", "minimum": 17, "maximum": 161, "default": 81, "description": "Frames"},
            "frames_per_second": {"type": "integer", "minimum": 4, "maximum": 60, "default": 16, "description": "FPS"},
            "resolution": {
                "enum": ["480p", "580p", "720p"],
                "type": "string",
                "default": "720p",
                "description": "Resolution",
            },
            "aspect_ratio": {
                "enum": ["auto", "16:9", "9:16", "1:1"],
                "type": "string",
                "default": "16:9",
                "description": "Aspect ratio",
            },
            "seed": _optional({"type": "integer", "description": "Random seed"}),
        },
        "required": ["prompt"],
        "price": (0.08, "second"),
    },
    "fal-ai/flux/dev": {
        "title": "FLUX.1 [dev] Text to Image",
        "category": "text-to-image",
        "description": "FLUX.1 [dev]: a 12B text-to-image model.",
        "properties": {
            "prompt": _s("The prompt to generate an image from"),
            "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1, "description": "Images"},
        },
        "required": ["prompt"],
        "output": "images",
        "price": (0.025, "image"),
    },
}
# The curated endpoints as the Platform API lists them, so a search finds them too.
CATALOGUE: dict[str, dict[str, str]] = {
    **{
        endpoint: {
            "title": endpoint.split("/", 1)[1].replace("/", " ").replace("-", " ").title(),
            "category": "image-to-video" if "image-to-video" in endpoint or "frame" in endpoint else "text-to-video",
            "description": f"{endpoint} on fal",
        }
        for endpoint in ENDPOINTS
    },
    **{endpoint: {k: entry[k] for k in ("title", "category", "description")} for endpoint, entry in EXTRA.items()},
}


def _pascal(endpoint: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", endpoint) if part)


def openapi_document(endpoint: str) -> dict[str, Any]:
    """The queue OpenAPI document fal publishes for `endpoint`."""
    entry = EXTRA[endpoint]
    name = _pascal(endpoint.split("/", 1)[1])
    file_schema = {
        "type": "object",
        "title": "File",
        "properties": {"url": {"type": "string"}, "content_type": {"type": "string"}, "file_size": {"type": "integer"}},
        "required": ["url"],
    }
    kind = entry.get("output", "video")
    output_props = (
        {"images": {"type": "array", "items": {"$ref": "#/components/schemas/File"}}}
        if kind == "images"
        else {"video": {"$ref": "#/components/schemas/File", "description": "The generated video"}}
    )
    request_id = [{"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {endpoint}",
            "version": "1.0.0",
            "description": f"The OpenAPI schema for the {endpoint} queue.",
            "x-fal-metadata": {
                "endpointId": endpoint,
                "category": entry["category"],
                "playgroundUrl": f"https://fal.ai/models/{endpoint}",
                "documentationUrl": f"https://fal.ai/models/{endpoint}/api",
            },
        },
        "components": {
            "securitySchemes": {"apiKeyAuth": {"type": "apiKey", "in": "header", "name": "Authorization"}},
            "schemas": {
                "QueueStatus": {
                    "type": "object",
                    "properties": {"status": {"type": "string", "enum": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]}},
                    "required": ["status", "request_id"],
                },
                f"{name}Input": {
                    "type": "object",
                    "title": f"{name}Input",
                    "x-fal-order-properties": list(entry["properties"]),
                    "properties": entry["properties"],
                    "required": entry["required"],
                },
                f"{name}Output": {"type": "object", "properties": output_props, "required": list(output_props)},
                "File": file_schema,
            },
        },
        "paths": {
            f"/{endpoint}/requests/{{request_id}}/status": {"get": {"parameters": request_id}},
            f"/{endpoint}/requests/{{request_id}}/cancel": {"put": {"parameters": request_id}},
            f"/{endpoint}": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}Input"}}},
                    },
                    "responses": {"200": {"description": "The request status."}},
                }
            },
            f"/{endpoint}/requests/{{request_id}}": {
                "get": {
                    "parameters": request_id,
                    "responses": {
                        "200": {
                            "description": "Result of the request.",
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}Output"}}},
                        }
                    },
                }
            },
        },
        "servers": [{"url": "https://queue.fal.run"}],
        "security": [{"apiKeyAuth": []}],
    }


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_TYPE_WORDS = {
    "string": ("a valid string", "string_type"),
    "integer": ("a valid integer", "int_type"),
    "number": ("a valid number", "float_type"),
    "boolean": ("a valid boolean", "bool_type"),
}


def _value_problem(rule: dict[str, Any], value: Any) -> Problem | None:
    """pydantic's verdict on one value of a published field (fal's apps validate their input with pydantic)."""
    if "anyOf" in rule:
        if value is None:
            return None
        rule = next(r for r in rule["anyOf"] if r.get("type") != "null")
    kind = rule.get("type")
    if kind in _PY_TYPES and (
        not isinstance(value, _PY_TYPES[kind]) or (isinstance(value, bool) and kind != "boolean")
    ):
        words, code = _TYPE_WORDS[kind]
        return f"Input should be {words}", code
    if "enum" in rule and value not in rule["enum"]:
        return one_of(*rule["enum"])(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            return f"Input should be greater than or equal to {rule['minimum']}", "greater_than_equal"
        if "maximum" in rule and value > rule["maximum"]:
            return f"Input should be less than or equal to {rule['maximum']}", "less_than_equal"
    if isinstance(value, str) and "maxLength" in rule and len(value) > rule["maxLength"]:
        return f"String should have at most {rule['maxLength']} characters", "string_too_long"
    if rule.get("format") == "uri" and isinstance(value, str):
        return image(value)
    return None


def extra_problems(endpoint: str, payload: Any) -> list[dict[str, Any]]:
    """The 422 detail items of a payload for a catalogue endpoint, by its published Input schema."""
    if not isinstance(payload, dict):
        return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}]
    entry = EXTRA[endpoint]
    found = []
    for name in entry["required"]:
        if payload.get(name) is None:
            found.append({"loc": ["body", name], "msg": "Field required", "type": "missing"})
    for name, rule in entry["properties"].items():
        if name in payload and (problem := _value_problem(rule, payload[name])):
            found.append({"loc": ["body", name], "msg": problem[0], "type": problem[1], "input": payload[name]})
    return found


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("fal", speed=speed, typical_seconds=90.0, queue_seconds=10.0)
    sim.config.update(status_errors=True)

    def error(status: int, detail: Any, **headers: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    def gate(request: Request) -> Response | None:
        """Auth, account and injected faults: what fal's gateway answers before any model runs."""
        config = sim.config
        applies = config.get("on") in (None, request.method)
        if config.get("server_errors", 0) > 0 and applies:
            config["server_errors"] -= 1
            status = int(config.get("error_status", 500))
            kind = {503: "runner_scheduling_failure", 502: "runner_incomplete_response", 504: "request_timeout"}
            retryable = "true" if config.get("retryable", True) else "false"
            body = {"detail": "Internal server error", "error_type": kind.get(status, "internal_error")}
            return JSONResponse(body, status_code=status, headers={"X-Fal-Retryable": retryable})
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "Key" or not key.strip():
            return error(401, "Missing or malformed Authorization header; use 'Authorization: Key <FAL_KEY>'.")
        if config.get("key") not in (None, key.strip()):
            return error(401, "Invalid key: no key matches the one given.")
        if config.get("rate_limit", 0) > 0 and applies:
            config["rate_limit"] -= 1
            retry_after = str(config.get("retry_after", 1))
            return error(429, "Too many requests: concurrent request limit reached.", **{"Retry-After": retry_after})
        if request.method == "POST" and config.get("balance", 1) <= 0:
            return error(
                403, "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
            )
        return None

    def urls(request: Request, app: str, request_id: str) -> dict[str, str]:
        base = f"{public_root(request)}/{app}/requests/{request_id}"
        return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}

    async def submit(request: Request) -> Response:
        if denied := gate(request):
            return denied
        endpoint = request.path_params["path"].strip("/")
        if endpoint not in ENDPOINTS and endpoint not in EXTRA:
            return error(404, f"Application '{endpoint}' not found.")
        try:
            payload = await request.json()
        except ValueError:
            return error(422, [{"loc": ["body"], "msg": "JSON decode error", "type": "json_invalid"}])
        if found := (problems(endpoint, payload) if endpoint in ENDPOINTS else extra_problems(endpoint, payload)):
            return error(422, found, **{"X-Fal-Retryable": "false"})
        if endpoint in ENDPOINTS:
            declared: set[str] = set(ENDPOINTS[endpoint])
            fields = {name: spec.default for name, spec in ENDPOINTS[endpoint].items() if spec.default is not None}
        else:
            declared = set(EXTRA[endpoint]["properties"])
            fields = {name: r["default"] for name, r in EXTRA[endpoint]["properties"].items() if "default" in r}
        merged = {**fields, **payload}
        job = sim.create(payload, prompt=payload.get("prompt"), job_id=str(uuid.uuid4()))
        app = "/".join(endpoint.split("/")[:2])  # status URLs drop the endpoint's subpath
        job.extra.update(
            endpoint=endpoint,
            app=app,
            urls=urls(request, app, job.id),
            duration=seconds_of(merged.get("duration", 5))
            if "num_frames" not in merged
            else merged["num_frames"] / merged.get("frames_per_second", 16),
            aspect_ratio=merged.get("aspect_ratio") if merged.get("aspect_ratio") not in (None, "auto") else "16:9",
            authorization=request.headers.get("authorization"),
            root=public_root(request),
            ignored=sorted(set(payload) - declared),  # fal drops these without a word
        )
        if hook := request.query_params.get("fal_webhook"):
            sim.call_back(
                job,
                hook,
                webhook,
                on=("succeeded", "failed", "cancelled"),
                attempts=WEBHOOK_ATTEMPTS,
                spacing=WEBHOOK_SPACING,
            )
        body = {"status": "IN_QUEUE", "request_id": job.id, **job.extra["urls"], "queue_position": QUEUE_AHEAD - 1}
        return JSONResponse(body)

    def find(request: Request) -> SimJob | Response:
        if denied := gate(request):
            return denied
        job = sim.get(request.path_params["request_id"])
        app = f"{request.path_params['owner']}/{request.path_params['alias']}"
        if job is None or job.extra["app"] != app:
            return error(404, "Request not found.")
        return job

    def logs(job: SimJob, progress: float) -> list[dict[str, Any]]:
        stamp = datetime.now(timezone.utc).isoformat()
        entries = [{"message": "Starting video generation", "level": "INFO", "source": "user", "timestamp": stamp}]
        if progress > 0:
            entry = {"message": f"Generating video: {progress:.0%}", "level": "INFO", "source": "user"}
            entries.append({**entry, "timestamp": stamp})
        return entries

    async def status(request: Request) -> Response:
        job = find(request)
        if isinstance(job, Response):
            return job
        with_logs = request.query_params.get("logs", "0").lower() in ("1", "true")
        phase, progress = job.phase()
        body: dict[str, Any] = {"request_id": job.id, **job.extra["urls"]}
        if phase == "queued":
            left = max(0.0, job.queue_seconds - (time.time() - job.created)) / max(job.queue_seconds, 1e-9)
            position = max(0, math.ceil(QUEUE_AHEAD * left) - 1)
            return JSONResponse({**body, "status": "IN_QUEUE", "queue_position": position}, status_code=202)
        if phase == "running":
            body |= {"status": "IN_PROGRESS", "logs": logs(job, progress) if with_logs else None}
            return JSONResponse(body, status_code=202)
        body |= {"status": "COMPLETED", "logs": logs(job, 1.0) if with_logs else None}
        body["metrics"] = {"inference_time": job.run_seconds * sim.speed}
        if sim.config.get("status_errors", True) and phase != "succeeded":
            body["error"], body["error_type"] = verdict(job, phase)
        return JSONResponse(body)

    async def result(request: Request) -> Response:
        job = find(request)
        if isinstance(job, Response):
            return job
        if job.phase()[0] in ("queued", "running"):
            return error(400, "Request is still in progress")
        status, body, headers = await outcome(job, public_root(request))
        return JSONResponse(body, status_code=status, headers=headers)

    async def outcome(job: SimJob, root: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A finished request's result, as its result URL answers it and its webhook carries it."""
        phase, _ = job.phase()
        if phase == "cancelled":
            body = {"detail": CANCELLED_MESSAGE, "error_type": "client_cancelled"}
            return 499, body, {"X-Fal-Error-Type": "client_cancelled"}
        if phase == "failed" and job.fail == "content":
            detail = [{"loc": ["body", "prompt"], "msg": CONTENT_MESSAGE, "type": "content_policy_violation"}]
            return 422, {"detail": detail}, {"X-Fal-Retryable": "false"}
        if phase == "failed" and job.fail == "image_load_error":  # fal's model-error shape (422, loc/msg/type)
            detail = [{"loc": ["body", "image_url"], "msg": IMAGE_LOAD_MESSAGE, "type": "image_load_error"}]
            return 422, {"detail": detail}, {"X-Fal-Retryable": "false"}
        if phase == "failed":
            kind = error_kind(job)
            status, reason = REQUEST_ERRORS[kind]
            headers = {"X-Fal-Retryable": "true", "X-Fal-Request-Id": job.id, "X-Fal-Error-Type": kind}
            return status, {"detail": reason, "error_type": kind}, headers
        duration, ratio = float(job.extra["duration"]), str(job.extra["aspect_ratio"])
        size = len(await anyio.to_thread.run_sync(sample_video, duration, ratio))
        video = {
            "url": video_url(root, job),
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": size,
        }
        return 200, {"video": video}, {}

    async def webhook(job: SimJob, phase: str) -> dict[str, Any]:
        status, body, _ = await outcome(job, job.extra["root"])
        hook: dict[str, Any] = {"request_id": job.id, "gateway_request_id": job.id}
        hook["status"] = "OK" if status == 200 else "ERROR"
        if status != 200:
            hook["error"] = f"Invalid status code: {status}"
        if sim.config.get("webhook_payload_error"):
            return {**hook, "payload": None, "payload_error": PAYLOAD_ERROR}
        return {**hook, "payload": body}

    async def cancel(request: Request) -> Response:
        job = find(request)
        if isinstance(job, Response):
            return JSONResponse({"status": "NOT_FOUND"}, status_code=404) if job.status_code == 404 else job
        if job.phase()[0] in ("queued", "running"):
            job.cancelled = True
            return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)
        return JSONResponse({"status": "ALREADY_COMPLETED"}, status_code=400)

    async def unknown(request: Request) -> Response:
        return error(404, "Not Found")

    def platform_error(status: int, kind: str, message: str) -> JSONResponse:
        """The Platform API's error shape: {"error": {"type", "message"}}."""
        return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)

    def platform_gate(request: Request, required: bool) -> Response | None:
        header = request.headers.get("authorization")
        if header is None and not required:
            return None  # model search: "Authentication: Optional"
        scheme, _, key = (header or "").partition(" ")
        if scheme != "Key" or not key.strip() or sim.config.get("key") not in (None, key.strip()):
            return platform_error(401, "authorization_error", "Authentication required")
        return None

    def wanted_ids(request: Request) -> list[str]:
        return [i for value in request.query_params.getlist("endpoint_id") for i in value.split(",") if i]

    async def openapi(request: Request) -> Response:
        """fal.ai/api/openapi/queue/openapi.json?endpoint_id=...: public, no key."""
        sim.config["schema_reads"] = sim.config.get("schema_reads", 0) + 1
        if sim.config.get("schema_errors", 0) > 0:
            sim.config["schema_errors"] -= 1
            return error(503, "Service temporarily unavailable")
        endpoint = request.query_params.get("endpoint_id", "").strip()
        if not endpoint:
            return error(400, "endpoint_id is required")
        if endpoint not in EXTRA:
            return error(404, f"Endpoint '{endpoint}' not found")
        return JSONResponse(openapi_document(endpoint))

    async def pricing(request: Request) -> Response:
        sim.config["pricing_reads"] = sim.config.get("pricing_reads", 0) + 1
        if denied := platform_gate(request, required=True):
            return denied
        ids = wanted_ids(request)
        if not 1 <= len(ids) <= 50:
            return platform_error(400, "validation_error", "endpoint_id: provide 1 to 50 endpoint IDs")
        known = [i for i in ids if i in EXTRA]
        if not known:
            return platform_error(404, "not_found", "Resource not found")
        prices = [
            {"endpoint_id": i, "unit_price": EXTRA[i]["price"][0], "unit": EXTRA[i]["price"][1], "currency": "USD"}
            for i in known
        ]
        return JSONResponse({"prices": prices, "next_cursor": None, "has_more": False})

    async def search(request: Request) -> Response:
        if denied := platform_gate(request, required=False):
            return denied
        query = request.query_params
        words = query.get("q", "").lower().split()
        ids = wanted_ids(request)
        hits = []
        for endpoint, entry in CATALOGUE.items():
            text = " ".join((endpoint, entry["title"], entry["description"], entry["category"])).lower()
            if ids and endpoint not in ids:
                continue
            if not all(word in text for word in words):
                continue
            if query.get("category") and entry["category"] != query["category"]:
                continue
            metadata: dict[str, Any] = {
                "display_name": entry["title"],
                "category": entry["category"],
                "description": entry["description"],
                "status": "active",
                "tags": [],
                "updated_at": "2026-11-01T00:00:00Z",
                "is_favorited": None,
                "thumbnail_url": f"https://fal.media/files/{endpoint.replace('/', '_')}.jpg",
                "model_url": f"https://fal.run/{endpoint}",
                "date": "2026-06-01T00:00:00Z",
                "highlighted": False,
                "pinned": False,
            }
            hit: dict[str, Any] = {"endpoint_id": endpoint, "metadata": metadata}
            if "openapi-3.0" in query.getlist("expand") and endpoint in EXTRA:
                hit["openapi"] = openapi_document(endpoint)
            hits.append(hit)
        limit = int(query.get("limit", "20") or 20)
        return JSONResponse({"models": hits[:limit], "next_cursor": None, "has_more": len(hits) > limit})

    requests = "/{owner}/{alias}/requests/{request_id}"
    app = Starlette(
        routes=[
            *sim.routes(),
            Route("/api/openapi/queue/openapi.json", openapi, methods=["GET"]),  # fal.ai
            Route("/v1/models", search, methods=["GET"]),  # api.fal.ai: the Platform API
            Route("/v1/models/pricing", pricing, methods=["GET"]),
            Route(f"{requests}/status", status, methods=["GET"]),
            Route(f"{requests}/cancel", cancel, methods=["PUT"]),
            Route(requests, result, methods=["GET"]),
            Route("/{path:path}", submit, methods=["POST"]),
            Route("/{path:path}", unknown, methods=["GET", "PUT", "DELETE"]),
        ]
    )
    app.state.sim = sim
    return app
