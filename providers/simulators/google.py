"""A local copy of the Gemini API's Interactions endpoints for Gemini Omni video, as the official SDK
`google-genai` 3.6.1 calls them (google/genai/_gaos/interactions.py, types/interactions/*.py):

  POST /{api_version}/interactions               -> Interaction {id, status, model, ...}
  GET  /{api_version}/interactions/{id}          -> Interaction (steps[] holds the model_output video when done)
  POST /{api_version}/interactions/{id}/cancel   -> Interaction (cancelled)
  GET  /{api_version}/files/{name}:download      -> the MP4 of a `delivery: "uri"` result (needs the key too)

The SDK sends the key as `x-goog-api-key` (the REST docs' `?key=` is accepted too) and `{api_version}` is
"v1" by default ("v1beta" in the docs' curl examples): both are served. Two error shapes, as a live-tested
third-party adapter (bike4mind's gemini-omni provider) records them: the Google front end's google.rpc
`{"error": {"code": 400, "message", "status", "details"?}}` for the key and quotas (an unknown key is 400
INVALID_ARGUMENT with the ErrorInfo reason API_KEY_INVALID, no key 403 PERMISSION_DENIED, a rate limit or a
depleted prepaid balance 429 RESOURCE_EXHAUSTED, overload 503 UNAVAILABLE), and the Interactions endpoints' own
`{"error": {"code": "invalid_request", "message"}}` (the SDK's Error: a string code) for a body it refuses (an
unknown field: 'Invalid JSON payload received. Unknown name "x"'), a prompt blocked for safety, or an unknown
interaction id (400 "Invalid interaction name", not a 404).

The request: `model` (the Omni ids of types/interactions/model.py), `input` (a string, or content blocks: text,
image with base64 `data` + `mime_type` or a `uri`; the SDK wraps a content list in one user_input step),
`background`, `generation_config.video_config.task` (text_to_video | image_to_video | reference_to_video | edit |
extend | upscale), `response_format` {type: "video", aspect_ratio 16:9 | 9:16, resolution 360p | 720p | 1080p | 4k,
duration, delivery inline | uri}, `webhook_config` {uris, user_metadata}. `duration` is a string in the SDK;
the simulator takes the protobuf Duration JSON form ("8s"), how a proto duration is written as a string (an
inference: no example found).
Per model (Google Cloud model pages, resellers' published limits): gemini-omni-1.2-flash 3-15 s,
gemini-omni-1.1-flash 3-10 s, both 360p-4k; gemini-omni-flash-preview 3-10 s at 720p only.

Statuses: queued -> in_progress -> completed | failed, cancelled after a cancel. A safety refusal while generating
is `completed` with a text-only model_output and no video tokens (as observed live, same source). A completed
interaction's
steps end in {"type": "model_output", "content": [{"type": "video", "mime_type": "video/mp4", "data": b64}]}
(inline, the default) or `uri` (delivery "uri"); usage counts 5,792 video tokens per second. A webhook_config
gets one POST per end state, {"type": "interaction.completed" | "interaction.failed", "data": {"id", "status",
"user_metadata"}}, tried 3 times 10 s apart: the event names are the SDK's (WebhookSubscribedEvent); the body's
shape is not in the SDK (an assumption), so the adapter treats a callback only as a prompt to poll.

Veo, as the Gemini API serves it with the same key (google-genai 2.34.0's Developer-API converters,
models.py _GenerateVideosParameters_to_mldev / _GenerateVideosConfig_to_mldev / _Image_to_mldev, and
_operations_converters.py _GenerateVideosOperation_from_mldev; ai.google.dev/gemini-api/docs/video):

  POST /v1beta/models/{model}:predictLongRunning  -> Operation {name: "models/{model}/operations/{id}"}
  GET  /v1beta/models/{model}/operations/{id}     -> {name, done?, error? | response.generateVideoResponse}

The body is {instances: [one {prompt, image?, lastFrame?, referenceImages?, video?}], parameters: {aspectRatio,
durationSeconds, resolution, negativePrompt, personGeneration, sampleCount 1-4, enhancePrompt}}; an image is
{bytesBase64Encoded, mimeType} (a gcsUri is Vertex's: refused). What the SDK refuses to send in Developer mode
(seed, generateAudio, fps, storageUri, pubsubTopic, compressionQuality, resizeMode, mask) is refused here as
the API refuses an unknown field, and so is any other unknown name. Per model (the docs): durations 4/6/8
(Veo 2: 5/6/8), 16:9 or 9:16; 1080p and 4k (4k: Veo 3.1 only) only at 8 s; Veo 3.0's 1080p only in 16:9;
Veo 2 has no resolution setting; lastFrame only on Veo 3.1. An unknown model is a 404 NOT_FOUND, a bad value
a 400 INVALID_ARGUMENT (google.rpc bodies). A finished operation's sample `video.uri` is the Files API download
below (the key needed); sim:fail=content finishes with no samples and raiMediaFilteredReasons (the safety
filters), sim:fail=internal with an `error` Status {code: 13}. Operations have no cancel (none in the SDK or the
REST reference): a POST to .../operations/{id}:cancel finds no such method. A top-level `webhookConfig`
{uris, user_metadata} (as the 2.34 converter sends it) gets one POST when a video is made, {"type":
"video.generated", "data": {"name", "user_metadata"}}: the event name is the SDK's (WebhookSubscribedEvent), the
body's shape an assumption; nothing is sent for a failed or filtered operation (the SDK names no such event).

Test switches (POST /_sim/config or app.state.sim.config):
  {"api_keys": [...]}       the keys that work (default: DEFAULT_KEY)
  {"credits_usd": N}        a prepaid balance; a job costing more is refused with 429 RESOURCE_EXHAUSTED
  {"errors": [429, 503]}    the next API requests answer these statuses, one each
Prompt directives: sim:fail=content (completes with no video: refused on safety), sim:fail=blocked (the submit is
refused on safety), sim:fail=internal (failed), sim:fail=image (with an image: the submit is refused, the image
cannot be processed), sim:seconds=N, sim:queue=N.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.images import sniff
from providers.simulators.common import SimJob, Simulator, directives, public_root, sample_video

DEFAULT_KEY = "AIzaSySimulatedGeminiKey" + "0" * 15  # the shape of a Gemini key: AIza and 35 more characters
VERSIONS = ("v1", "v1beta")
VIDEO_TOKENS_PER_SECOND = 5792
USD_PER_VIDEO_TOKEN = 17.50 / 1_000_000  # the simulator's own bill, for the credits switch
TASKS = ("text_to_video", "image_to_video", "reference_to_video", "edit", "extend", "upscale")
RATIOS = ("16:9", "9:16")
DELIVERIES = ("inline", "uri")
IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "image/gif", "image/bmp")
RESOLUTION_FACTOR = {"360p": 1 / 3, "720p": 1.0, "1080p": 1.5, "4k": 3.0}
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
TOP_LEVEL = frozenset(
    {
        *("model", "agent", "agent_config", "background", "cached_content", "continuation_token", "environment"),
        *("generation_config", "input", "labels", "previous_interaction_id", "response_format"),
        *("response_mime_type", "response_modalities", "safety_settings", "service_tier", "store", "stream"),
        *("system_instruction", "tools", "webhook_config"),
    }
)
GENERATION_CONFIG = frozenset(
    {
        *("image_config", "max_output_tokens", "seed", "speech_config", "stop_sequences", "temperature"),
        *("thinking_level", "thinking_summaries", "tool_choice", "top_p", "transcription_config", "video_config"),
    }
)
VIDEO_FORMAT = frozenset({"type", "aspect_ratio", "delivery", "duration", "gcs_uri", "resolution"})
STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
CANNED = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
}
FAILURES = {
    "content": "I can't make that video: the request may go against the safety policies.",
    "internal": "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
}


@dataclass(frozen=True)
class Model:
    durations: tuple[int, int]  # whole seconds, inclusive
    resolutions: tuple[str, ...]
    seconds: float  # simulated generation time


MODELS: dict[str, Model] = {
    "gemini-omni-1.2-flash": Model((3, 15), ("360p", "720p", "1080p", "4k"), 60.0),
    "gemini-omni-1.1-flash": Model((3, 10), ("360p", "720p", "1080p", "4k"), 60.0),
    "gemini-omni-flash-preview": Model((3, 10), ("720p",), 40.0),
}
DEFAULT_SECONDS = 8


@dataclass(frozen=True)
class Veo:
    durations: tuple[int, ...]
    resolutions: tuple[str, ...]  # () : no resolution setting (Veo 2, 720p)
    last_frame: bool
    usd_per_second: float  # the simulator's own bill, for the credits switch
    seconds: float  # simulated generation time


VEO: dict[str, Veo] = {
    "veo-3.1-generate-preview": Veo((4, 6, 8), ("720p", "1080p", "4k"), True, 0.40, 90.0),
    "veo-3.1-fast-generate-preview": Veo((4, 6, 8), ("720p", "1080p", "4k"), True, 0.15, 60.0),
    "veo-3.0-generate-001": Veo((4, 6, 8), ("720p", "1080p"), False, 0.40, 90.0),
    "veo-3.0-fast-generate-001": Veo((4, 6, 8), ("720p", "1080p"), False, 0.15, 60.0),
    "veo-2.0-generate-001": Veo((5, 6, 8), (), False, 0.35, 90.0),
}
VEO_INSTANCE = frozenset({"prompt", "image", "lastFrame", "referenceImages", "video"})
VEO_PARAMETERS = frozenset(
    {"aspectRatio", "durationSeconds", "resolution", "negativePrompt", "personGeneration", "sampleCount"}
    | {"enhancePrompt"}
)
VEO_VERSIONS = ("v1beta",)
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
VEO_FILTERED = (
    "Your prompt could not be submitted: it may violate our usage guidelines. Try rephrasing the prompt. "
    "If you think this was an error, send feedback. Support codes: 58061214"
)


def _veo_image(value: Any, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"Invalid value at 'instances[0].{where}': an image object."
    if "gcsUri" in value:
        return f"`instances[0].{where}.gcsUri` isn't supported by this model. Send the image as bytesBase64Encoded."
    if unknown := set(value) - {"bytesBase64Encoded", "mimeType"}:
        return _unknown(set(unknown), f"instances[0].{where}")
    if value.get("mimeType") not in IMAGE_MIMES:
        return f"Unsupported MIME type for `instances[0].{where}`: {value.get('mimeType')!r}."
    try:
        raw = base64.b64decode(str(value.get("bytesBase64Encoded", "")), validate=True)
    except (binascii.Error, ValueError):
        return f"Invalid value at 'instances[0].{where}.bytes_base64_encoded' (TYPE_BYTES), Base64 decoding failed."
    return None if raw and sniff(raw) else FAILURES_IMAGE


def validate_veo(model_id: str, body: Any) -> tuple[str | None, dict[str, Any]]:
    """(why the Gemini API would refuse it, or None; the job: prompt, seconds, ratio, resolution)."""
    model = VEO[model_id]
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object.", {}
    if unknown := set(body) - {"instances", "parameters", "webhookConfig"}:
        return _unknown(unknown), {}
    hook = body.get("webhookConfig")
    if hook is not None and (
        not isinstance(hook, dict)
        or set(hook) - {"uris", "user_metadata", "userMetadata"}
        or not all(isinstance(u, str) for u in hook.get("uris") or [])
        or not isinstance(hook.get("user_metadata", hook.get("userMetadata")) or {}, dict)
    ):
        return "Invalid `webhookConfig`: {uris: [string], user_metadata: object}.", {}
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "`instances` must hold exactly one instance.", {}
    instance = instances[0]
    if unknown := set(instance) - VEO_INSTANCE:
        return _unknown(unknown, "instances[0]"), {}
    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return "Invalid value at 'instances[0].prompt' (TYPE_STRING).", {}
    if not (prompt or "").strip() and "image" not in instance:
        return "A prompt or an image is required.", {}
    for where in ("image", "lastFrame"):
        if where in instance and (problem := _veo_image(instance[where], where)):
            return problem, {}
    if "lastFrame" in instance and not model.last_frame:
        return f"`lastFrame` isn't supported by this model ({model_id}).", {}
    if "lastFrame" in instance and "image" not in instance:
        return "`lastFrame` needs `image` (the first frame).", {}
    if ("referenceImages" in instance or "video" in instance) and not model.last_frame:
        return f"`{'video' if 'video' in instance else 'referenceImages'}` isn't supported by this model.", {}
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        return "Invalid value at 'parameters': an object.", {}
    if unknown := set(params) - VEO_PARAMETERS:
        name = sorted(unknown)[0]
        return f"`{name}` isn't supported by this model. Please remove it or refer to the Gemini API documentation.", {}
    ratio = params.get("aspectRatio", "16:9")
    if ratio not in RATIOS:
        return f"Unsupported aspect ratio {ratio!r}. Supported: 16:9, 9:16.", {}
    seconds = params.get("durationSeconds", 8)
    if isinstance(seconds, str) and seconds.isdigit():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds not in model.durations:
        allowed = ", ".join(str(d) for d in model.durations)
        return f"The duration {seconds!r} is out of bounds for {model_id}: supported {allowed} seconds.", {}
    resolution = params.get("resolution")
    if resolution is not None and resolution not in model.resolutions:
        if not model.resolutions:
            return f"`resolution` isn't supported by this model ({model_id}).", {}
        return f"Unsupported resolution {resolution!r} for {model_id}. Supported: {', '.join(model.resolutions)}.", {}
    resolution = resolution or "720p"
    if resolution in ("1080p", "4k") and seconds != 8:
        return f"{resolution} is only supported with durationSeconds 8.", {}
    if model_id.startswith("veo-3.0-") and resolution == "1080p" and ratio != "16:9":
        return "1080p is only supported with aspect ratio 16:9 for this model.", {}
    count = params.get("sampleCount", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4:
        return f"sampleCount must be between 1 and 4, not {count!r}.", {}
    person = params.get("personGeneration")
    if person is not None and person not in PERSON_GENERATION:
        return f"Unsupported personGeneration {person!r}.", {}
    negative = params.get("negativePrompt")
    if negative is not None and not isinstance(negative, str):
        return "Invalid value at 'parameters.negative_prompt' (TYPE_STRING).", {}
    job = {"prompt": prompt or "", "seconds": seconds, "ratio": ratio, "resolution": resolution, "count": count}
    return None, job


def _refusal(status: int, message: str, code: str = "invalid_request") -> JSONResponse:
    """An Interactions endpoint's own error: the SDK's Error {code: a string, message} (errors/createinteraction.py;
    a numeric code there fails the SDK's schema)."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _error(code: int, message: str, reason: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message, "status": STATUS_TEXT.get(code, "UNKNOWN")}
    if reason:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}
        ]
    return JSONResponse({"error": error}, status_code=code)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unknown(names: set[str], where: str = "") -> str:
    name = sorted(names)[0]
    at = f" at {where!r}" if where else ""
    return f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'


def _image_problem(block: dict[str, Any]) -> str | None:
    data, uri = block.get("data"), block.get("uri")
    if (data is None) == (uri is None):
        return "An image content block needs exactly one of `data` or `uri`."
    if uri is not None:
        if not isinstance(uri, str) or not re.match(r"^(https://|gs://|files/)", uri):
            return f"Unsupported image uri {str(uri)[:80]!r}: use an https://, gs:// or files/ URI."
        return None
    if block.get("mime_type") not in IMAGE_MIMES:
        return f"Unsupported MIME type for image data: {block.get('mime_type')!r}."
    try:
        raw = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        return "Invalid value at 'input.data' (TYPE_BYTES), Base64 decoding failed."
    return (
        None
        if sniff(raw)
        else "Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
    )


def _input_issues(value: Any) -> tuple[str | None, str, int]:
    """(problem, the prompt text, how many images) of the `input` field."""
    if isinstance(value, str):
        return (None if value.strip() else "`input` must not be empty."), value, 0
    blocks = [value] if isinstance(value, dict) else value
    if not isinstance(blocks, list) or not blocks:
        return "`input` must be a string or a list of content blocks.", "", 0
    # The SDK sends a content list as one user_input step (InteractionsInput: Content | [Step] | [Content]).
    steps = [b for b in blocks if isinstance(b, dict) and b.get("type") == "user_input"]
    if steps:
        if len(steps) != len(blocks) or not all(isinstance(b.get("content"), list) for b in steps):
            return "`input` steps must all be user_input steps with a `content` list.", "", 0
        blocks = [c for b in steps for c in b["content"]]
    text, images = [], 0
    for block in blocks:
        if not isinstance(block, dict):
            return "Each `input` item must be a content object.", "", 0
        kind = block.get("type")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                return "A text content block needs a string `text`.", "", 0
            text.append(block["text"])
        elif kind == "image":
            if problem := _image_problem(block):
                return problem, "", 0
            images += 1
        else:
            return f"Unsupported content type {kind!r} in `input`.", "", 0
    return (None if "".join(text).strip() else "`input` needs a text prompt."), " ".join(text), images


def validate(body: Any) -> tuple[str | None, dict[str, Any]]:
    """(why Google would refuse it, or None; what the job is: prompt, seconds, ratio, resolution, delivery)."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received. Expected an object.", {}
    if unknown := set(body) - TOP_LEVEL:
        return _unknown(unknown), {}
    model = MODELS.get(body.get("model"))  # type: ignore[arg-type]
    if "model" not in body:
        return "`model` is required.", {}
    if model is None:
        return f"Model {body['model']!r} does not support video generation with the Interactions API.", {}
    problem, prompt, images = _input_issues(body.get("input"))
    if problem:
        return problem, {}
    config = body.get("generation_config") or {}
    if not isinstance(config, dict) or (unknown := set(config) - GENERATION_CONFIG):
        return _unknown(unknown if isinstance(config, dict) else {"generation_config"}, "generation_config"), {}
    task = (config.get("video_config") or {}).get("task")
    if task is not None and task not in TASKS:
        return f"Invalid value at 'generation_config.video_config.task': {task!r}. Expected one of {TASKS}.", {}
    if task == "image_to_video" and not images:
        return "Task image_to_video needs an image in `input`.", {}
    fmt = body.get("response_format") or {"type": "video"}
    fmt = fmt[0] if isinstance(fmt, list) and fmt else fmt
    if not isinstance(fmt, dict) or fmt.get("type") != "video":
        return "`response_format` must be a video response format for this model.", {}
    if unknown := set(fmt) - VIDEO_FORMAT:
        return _unknown(unknown, "response_format"), {}
    ratio = fmt.get("aspect_ratio", "16:9")
    if ratio not in RATIOS:
        return f"Unsupported aspect_ratio {ratio!r}. Supported: 16:9, 9:16.", {}
    resolution = fmt.get("resolution", "720p")
    if resolution not in model.resolutions:
        allowed = ", ".join(model.resolutions)
        return f"Unsupported resolution {resolution!r} for {body['model']}. Supported: {allowed}.", {}
    delivery = fmt.get("delivery", "inline")
    if delivery not in DELIVERIES:
        return f"Unsupported delivery {delivery!r}. Supported: inline, uri.", {}
    seconds = DEFAULT_SECONDS
    if "duration" in fmt:
        match = DURATION.match(str(fmt["duration"])) if isinstance(fmt["duration"], str) else None
        low, high = model.durations
        if match is None or float(match.group(1)) != int(float(match.group(1))):
            return f'Invalid duration {fmt["duration"]!r}: use whole seconds such as "8s".', {}
        seconds = int(float(match.group(1)))
        if not low <= seconds <= high:
            return f"Unsupported duration {seconds}s for {body['model']}: {low}s to {high}s.", {}
    hook = body.get("webhook_config")
    if hook is not None and (
        not isinstance(hook, dict)
        or set(hook) - {"uris", "user_metadata"}
        or not all(isinstance(u, str) for u in hook.get("uris") or [])
        or not isinstance(hook.get("user_metadata") or {}, dict)
    ):
        return "Invalid `webhook_config`: {uris: [string], user_metadata: object}.", {}
    job = {"prompt": prompt, "seconds": seconds, "ratio": ratio, "resolution": resolution, "delivery": delivery}
    job["images"] = images
    return None, job


def price(job: dict[str, Any]) -> float:
    return job["seconds"] * VIDEO_TOKENS_PER_SECOND * USD_PER_VIDEO_TOKEN * RESOLUTION_FACTOR[job["resolution"]]


def create_app(speed: float = 1.0) -> Starlette:
    sim = Simulator("google", speed=speed, typical_seconds=60.0, queue_seconds=3.0)

    def refused(request: Request) -> Response | None:
        """The key and the injected errors: what every API request passes first."""
        if request.path_params.get("version") not in VERSIONS:
            return _error(404, "Method not found.")
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            return _error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if key.strip() not in sim.config.get("api_keys", [DEFAULT_KEY]):
            return _error(400, "API key not valid. Please pass a valid API key.", reason="API_KEY_INVALID")
        with sim.lock:
            queued = sim.config.get("errors") or []
            status = int(queued.pop(0)) if queued else None
        return _error(status, CANNED.get(status, "Error.")) if status else None

    def interaction(request: Request, job: SimJob) -> dict[str, Any]:
        phase, _ = job.phase()
        body: dict[str, Any] = {
            "id": job.id,
            "object": "interaction",
            "model": job.payload["model"],
            "created": _iso(job.created),
            "updated": _iso(job.created + (job.queue_seconds if phase != "queued" else 0)),
            "status": {"running": "in_progress", "succeeded": "completed"}.get(phase, phase),
        }
        if job.extra.get("webhook_config"):
            body["webhook_config"] = job.extra["webhook_config"]
        if phase == "failed":
            body["errors"] = [{"code": "internal", "message": FAILURES["internal"]}]
        if (
            phase == "succeeded" and job.extra.get("refused") == "content"
        ):  # refused on safety: text, no video, no video tokens
            body["steps"] = [
                {"type": "user_input", "content": [{"type": "text", "text": job.extra["prompt"]}]},
                {"type": "model_output", "content": [{"type": "text", "text": FAILURES["content"]}]},
            ]
            body["usage"] = {
                "output_tokens_by_modality": [{"modality": "text", "tokens": 24}],
                "total_output_tokens": 24,
            }
        elif phase == "succeeded":
            video: dict[str, Any] = {"type": "video", "mime_type": "video/mp4"}
            if job.extra["delivery"] == "uri":
                version = request.path_params.get("version", "v1")
                video["uri"] = f"{public_root(request)}/{version}/files/{job.extra['file']}:download?alt=media"
            else:
                data = sample_video(float(job.extra["duration"]), job.extra["aspect_ratio"])
                video["data"] = base64.b64encode(data).decode()
                sim.downloads[job.id] += 1
            body["steps"] = [
                {"type": "user_input", "content": [{"type": "text", "text": job.extra["prompt"]}]},
                {"type": "model_output", "content": [video]},
            ]
            tokens = VIDEO_TOKENS_PER_SECOND * int(job.extra["duration"])
            body["usage"] = {
                "output_tokens_by_modality": [{"modality": "video", "tokens": tokens}],
                "total_output_tokens": tokens,
            }
        return body

    async def event(job: SimJob, phase: str) -> dict[str, Any]:
        kind = "interaction.completed" if phase == "succeeded" else "interaction.failed"
        status = "completed" if phase == "succeeded" else "failed"
        metadata = (job.extra.get("webhook_config") or {}).get("user_metadata") or {}
        return {"type": kind, "data": {"id": job.id, "status": status, "user_metadata": metadata}}

    async def create(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        try:
            body = await request.json()
        except ValueError:
            return _refusal(400, "Invalid JSON payload received.")
        problem, job_info = validate(body)
        if problem:
            return _refusal(400, problem)
        if job_info["images"] and directives(job_info["prompt"]).get("fail") == "image":
            return _refusal(400, FAILURES_IMAGE)
        if directives(job_info["prompt"]).get("fail") == "blocked":  # refused at the door, nothing made
            return _refusal(400, "The prompt was blocked for safety reasons (PROHIBITED_CONTENT).")
        cost = price(job_info)
        with sim.lock:
            balance = sim.config.get("credits_usd")
            if balance is not None and balance < cost:
                return _error(
                    429,
                    "Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects "
                    "to manage your project and billing.",
                )
            if balance is not None:
                sim.config["credits_usd"] = balance - cost
        model = MODELS[body["model"]]
        job_id = "v1_" + secrets.token_urlsafe(24)
        job = sim.create(body, prompt=job_info["prompt"], job_id=job_id, seconds=model.seconds)
        if job.fail not in (None, "internal"):  # a safety refusal still completes (with no video)
            job.extra["refused"], job.fail = job.fail, None
        job.extra.update(
            duration=job_info["seconds"],
            aspect_ratio=job_info["ratio"],
            delivery=job_info["delivery"],
            prompt=job_info["prompt"],
            webhook_config=body.get("webhook_config"),
            file=secrets.token_hex(8),  # a Files API name: lowercase letters and digits (the SDK's t_file_name)
        )
        uris = (body.get("webhook_config") or {}).get("uris") or []
        for uri in uris:
            sim.call_back(job, uri, event, on=("succeeded", "failed"), attempts=3, spacing=10.0)
        if not body.get("background"):  # a foreground call answers when the video is made
            await asyncio.sleep(max(0.0, job.created + job.queue_seconds + job.run_seconds - time.time()))
        return JSONResponse(interaction(request, job))

    async def get(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        job = sim.get(request.path_params["interaction_id"])
        if job is None:  # an unknown id is a 400, not a 404 (as seen live: bike4mind's gemini-omni adapter)
            return _refusal(400, "Invalid interaction name.")
        return JSONResponse(interaction(request, job))

    async def cancel(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        job = sim.jobs.get(request.path_params["interaction_id"])
        if job is None:
            return _refusal(400, "Invalid interaction name.")
        phase = job.phase()[0]
        if phase in ("succeeded", "failed"):
            status = interaction(request, job)["status"]
            return _refusal(400, f"Interaction is already {status} and cannot be cancelled.", "failed_precondition")
        job.cancelled = True
        return JSONResponse(interaction(request, job))

    async def download(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        name = request.path_params["name"].removesuffix(":download")
        job = next((j for j in list(sim.jobs.values()) if j.extra.get("file") == name), None)
        if job is None or job.phase()[0] != "succeeded" or request.query_params.get("alt") != "media":
            return _error(404, "File not found.")
        sim.downloads[job.id] += 1
        return Response(sample_video(float(job.extra["duration"]), job.extra["aspect_ratio"]), media_type="video/mp4")

    def operation(request: Request, job: SimJob) -> dict[str, Any]:
        body: dict[str, Any] = {"name": job.id}
        phase, _ = job.phase()
        if phase not in ("succeeded", "failed"):
            body["metadata"] = {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningMetadata"
            }
            return body
        body["done"] = True
        if phase == "failed":
            body["error"] = {"code": 13, "message": FAILURES["internal"]}
            return body
        result: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
        }
        if job.extra.get("refused") == "content":
            result["generateVideoResponse"] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [VEO_FILTERED]}
        else:
            version = request.path_params.get("version", "v1beta")
            uri = f"{public_root(request)}/{version}/files/{job.extra['file']}:download?alt=media"
            result["generateVideoResponse"] = {"generatedSamples": [{"video": {"uri": uri}}]}
        body["response"] = result
        return body

    async def predict(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        model_id, _, method = request.path_params["target"].partition(":")
        if method != "predictLongRunning" or request.path_params["version"] not in VEO_VERSIONS:
            return _error(404, "Method not found.")
        if model_id not in VEO:
            return _error(
                404,
                f"models/{model_id} is not found for API version v1beta, or is not supported for "
                "predictLongRunning. Call ListModels to see the list of available models and their supported methods.",
            )
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        problem, job_info = validate_veo(model_id, body)
        if problem:
            return _error(400, problem)
        cost = VEO[model_id].usd_per_second * job_info["seconds"] * job_info["count"]
        with sim.lock:
            balance = sim.config.get("credits_usd")
            if balance is not None and balance < cost:
                return _error(
                    429,
                    "Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects "
                    "to manage your project and billing.",
                )
            if balance is not None:
                sim.config["credits_usd"] = balance - cost
        name = f"models/{model_id}/operations/{secrets.token_hex(6)}"
        job = sim.create(body, prompt=job_info["prompt"], job_id=name, seconds=VEO[model_id].seconds)
        if job.fail not in (None, "internal"):  # the safety filters answer on a finished operation
            job.extra["refused"], job.fail = job.fail, None
        job.extra.update(
            duration=job_info["seconds"], aspect_ratio=job_info["ratio"], file=secrets.token_hex(8), veo=True
        )
        hook = body.get("webhookConfig") or {}
        if not job.extra.get("refused"):  # "video.generated": the SDK's one event for videos, sent when one is made
            metadata = hook.get("user_metadata", hook.get("userMetadata")) or {}

            async def generated(job: SimJob, phase: str) -> dict[str, Any]:
                return {"type": "video.generated", "data": {"name": job.id, "user_metadata": metadata}}

            for uri in hook.get("uris") or []:
                sim.call_back(job, uri, generated, on=("succeeded",), attempts=3, spacing=10.0)
        return JSONResponse({"name": name})

    async def get_operation(request: Request) -> Response:
        if (response := refused(request)) is not None:
            return response
        if request.path_params["version"] not in VEO_VERSIONS:
            return _error(404, "Method not found.")
        name = f"models/{request.path_params['model']}/operations/{request.path_params['operation']}"
        job = sim.get(name)
        if job is None:
            return _error(404, f"Operation {name} not found.")
        return JSONResponse(operation(request, job))

    app = Starlette(
        routes=[
            Route("/{version}/models/{target}", predict, methods=["POST"]),
            Route("/{version}/models/{model}/operations/{operation}", get_operation, methods=["GET"]),
            Route("/{version}/interactions", create, methods=["POST"]),
            Route("/{version}/interactions/{interaction_id}", get, methods=["GET"]),
            Route("/{version}/interactions/{interaction_id}/cancel", cancel, methods=["POST"]),
            Route("/{version}/files/{name}", download, methods=["GET"]),
            *sim.routes(),
        ]
    )
    app.state.sim = sim
    return app


FAILURES_IMAGE = "Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
