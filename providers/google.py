"""Gemini Omni video through the Gemini API's Interactions endpoints (generativelanguage.googleapis.com).

Wire contract from the official SDK google-genai 3.6.1 (google/genai/_gaos/interactions.py; types/interactions/
createmodelinteraction.py, interaction.py, videoresponseformat.py, videoconfig.py, videocontent.py, model.py;
_gaos/_hooks/google_genai_auth.py; files.py):
  POST /v1/interactions {model, input, background: true, generation_config.video_config.task,
    response_format {type: video, aspect_ratio, resolution, duration, delivery}, webhook_config} -> Interaction
  GET /v1/interactions/{id} -> queued | in_progress | completed | failed | cancelled | incomplete |
    budget_exceeded | requires_action | requires_continuation | idle; a completed one's model_output step holds
    the video: base64 `data` (inline) or a `uri`
  POST /v1/interactions/{id}/cancel -> the cancelled Interaction
The key goes in `x-goog-api-key` on every request; "v1" is the SDK's default API version. We ask for
`delivery: "uri"` (the answer stays small) and read inline `data` when that is what comes back. A `uri` on
the API's own host is a Files API download (`files/{name}:download?alt=media`), which needs the key as the
SDK's files.download sends it: so this provider fetches the video itself (`fetch`), sending the key only to
the API's own origin and never to another host.

The SDK reads GOOGLE_API_KEY before GEMINI_API_KEY when both are set (_api_client.py): so do we. Interactions
cannot be listed or looked up by a label, so a submit cut off mid-way cannot be reconciled (SUBMIT_UNCONFIRMED).
Callbacks: `webhook_config.uris` gets a POST per event (interaction.completed / interaction.failed); the SDK
does not type the event body, so a callback only makes the engine poll.

Prices: Google bills Omni by output tokens and its pricing page could not be read here; the rates are the
highest credible third-party figures (see each model's price note), quoted high.

Veo through the same key (the `veo-*` models; each request goes to the API its model names, see `is_veo`):
  POST /v1beta/models/{model}:predictLongRunning {instances: [{prompt, image?, lastFrame?}], parameters:
    {aspectRatio, durationSeconds, resolution, negativePrompt, sampleCount}} -> an Operation {name:
    "models/{model}/operations/{id}"}
  GET /v1beta/{name} -> {name, done, error?: google.rpc.Status, response.generateVideoResponse:
    {generatedSamples: [{video: {uri | encodedVideo, encoding}}], raiMediaFilteredCount, raiMediaFilteredReasons}}
Wire contract from google-genai 2.34.0's Developer-API converters (models.py _GenerateVideosParameters_to_mldev,
_GenerateVideosConfig_to_mldev, _Image_to_mldev; _operations_converters.py _GenerateVideosOperation_from_mldev):
an image goes only as bytes ({bytesBase64Encoded, mimeType}: a gcs_uri raises there, so an image URL is refused
here before any submit), and seed, generate_audio, fps, output_gcs_uri, mask, compression_quality and
resize_mode raise "only supported in Vertex" mode: so Veo here takes no seed, and Veo 3.x always makes sound.
google-genai 3.x (installed: 3.6.1) dropped this path from generate_videos (it raises ValueError outside
Vertex), but still reads these operations with operations.get (_get_videos_operation: GET {name}) and
downloads their videos with files.download; the Gemini API docs (ai.google.dev/gemini-api/docs/video) still
offer Veo 3.1 with an API key. Limits (those docs): 4, 6 or 8 s (Veo 2: 5, 6 or 8), 16:9 or 9:16; 1080p and
4K (Veo 3.1 only) need 8 s; Veo 3.0 makes 1080p only in 16:9; Veo 2 makes 720p, silent; lastFrame is Veo 3.1's.
The result's uri is a Files API download on the API's host (the key is needed, as for Omni: `fetch`); a
finished operation with no samples and raiMediaFilteredReasons was refused by the safety filters. The Gemini
API has no cancel for these operations (the SDK has none, the REST reference lists get and list only): a Veo
job cannot be cancelled, so a cancel is refused and the video is delivered (and billed). Callbacks: the 2.34
converter sends GenerateVideosConfig.webhook_config as a top-level `webhookConfig` {uris, user_metadata} (its
keys as the SDK dumps them); the SDK's WebhookSubscribedEvent names "video.generated" (and no failure event for
videos), whose body it does not type: as for Omni a callback only makes the engine poll, and a failed Veo job
is found by the engine's safety-net poll.
Veo prices: Google's list prices (ai.google.dev/gemini-api/docs/pricing), per second of video with sound.

Veo on Vertex AI (designed, not built). Credentials: Application Default Credentials, i.e. a service account
key file named by GOOGLE_APPLICATION_CREDENTIALS (or gcloud's user ADC, or the metadata server on Google
Cloud), exchanged by google-auth for an OAuth access token with the cloud-platform scope, sent as
`Authorization: Bearer` and renewed before it expires (the `auth` callable of http_options runs per request,
as Kling's JWT does); GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION (default us-central1) name the project
and region, as the SDK's Client(vertexai=True) reads them. It would be a second provider, `vertex`, sharing
this module's Veo body, error table and Operation reader, with base https://{location}-aiplatform.googleapis.com:
  POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning (the same instances and
    parameters, plus what only Vertex takes: seed, generateAudio (Veo 3 may be silent, at the lower rate),
    storageUri (output to gs://), fps, compressionQuality, resizeMode, and images by gcsUri)
  POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:fetchPredictOperation {operationName}
    until done; response.videos[] holds {gcsUri, mimeType} when storageUri was given, else
    {bytesBase64Encoded, mimeType} inline (decoded by `fetch`); a gs:// result is read through the GCS JSON
    API (storage.googleapis.com/storage/v1/b/{bucket}/o/{object}?alt=media) with the same token.
Errors are the same google.rpc Status bodies (403 PERMISSION_DENIED also for a project without Vertex AI
enabled or without Veo access: AUTH). Prices: the Vertex AI pricing page (Veo 3.1 with and without audio).
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import anyio
from pydantic import Field, field_validator

from providers import images
from providers.base import (
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
    ModelSpec,
    PriceRule,
    ProviderError,
    ProviderErrorInfo,
    Rule,
    Snapshot,
    State,
    Submission,
    TaskAnswer,
    TaskProvider,
    VideoRequest,
    Wire,
    json_body,
)

API_VERSION = "v1"
KEY_VARS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")  # the SDK's order of preference
MAX_INLINE_IMAGE_BYTES = 7 * 1024 * 1024  # the request's inline data stays well under Gemini's 20 MB request cap
MAX_VIDEO_BYTES = 2 * 1024**3
REDIRECTS = (301, 302, 303, 307, 308)
PRICE_CHECKED = "2026-12-03"
# Google bills 5,792 video tokens per second of 720p output at $17.50 per 1M video tokens (runware's copy of
# Google's rates) = $0.1014/s; 360p costs a third of 720p (Google's 1.1 announcement), 1080p x1.5, 4K x3
# (WaveSpeed's grid for 1.1: $0.03 / $0.10 / $0.15 / $0.30).
TOKENS_SOURCE = "https://runware.ai/docs/models/google-gemini-omni-flash"
OMNI_12_SOURCE = "https://muapi.ai/zh/gemini-omni-1.2-flash"
RESOLUTIONS = ("360p", "720p", "1080p", "4k")
FACTORS = {"360p": 0.34, "1080p": 1.5, "4k": 3.0}
THIRD_PARTY = "third-party figures (Google's page could not be read), quoted high"


def _omni(
    model: str, name: str, what: str, seconds: int, resolutions: tuple[str, ...], rate: float, note: str, source: str
) -> ModelSpec:
    return ModelSpec(
        id=model,
        name=name,
        description=f"{what}; 3-{seconds} s, 16:9 or 9:16, always with sound; third-party price, quoted high.",
        modes=("text_to_video", "image_to_video"),
        durations=tuple(float(s) for s in range(3, seconds + 1)),
        default_duration=8.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=resolutions,
        default_resolution="720p",
        audio=True,
        default_audio=True,
        max_images=1,
        price=PriceRule(
            per_second=rate,
            resolution_factor={r: f for r, f in FACTORS.items() if r in resolutions},
            note=f"{note}; {THIRD_PARTY}",
        ),
        price_source=source,
        price_checked=PRICE_CHECKED,
        typical_seconds=60.0,
    )


OMNI_MODELS: tuple[ModelSpec, ...] = (
    _omni(
        "gemini-omni-1.2-flash",
        "Gemini Omni 1.2 Flash",
        "Google's newest Omni model: text or a start image",
        15,
        RESOLUTIONS,
        0.07,
        "muapi's grid ($0.023 360p, $0.07 720p, $0.105 1080p, $0.21 4K), as LaoZhang reads Google's list price",
        OMNI_12_SOURCE,
    ),
    _omni(
        "gemini-omni-1.1-flash",
        "Gemini Omni 1.1 Flash",
        "Omni 1.1 (GA): text or a start image",
        10,
        RESOLUTIONS,
        0.1014,
        "5,792 video tokens/s x $17.50 per 1M = $0.1014/s at 720p; 360p a third, 1080p x1.5, 4K x3",
        TOKENS_SOURCE,
    ),
    _omni(
        "gemini-omni-flash-preview",
        "Gemini Omni Flash (preview)",
        "The Omni preview: text or a start image, 720p only",
        10,
        ("720p",),
        0.1014,
        "5,792 video tokens/s x $17.50 per 1M = $0.1014/s",
        TOKENS_SOURCE,
    ),
)


# -- Veo (predictLongRunning) ------------------------------------------------------------------------------
VEO_API_VERSION = "v1beta"  # the SDK's default for the Developer API, and the docs' curl examples
PRICING = "https://ai.google.dev/gemini-api/docs/pricing"
# Google's page, as api-evangelist/gemini transcribed it verbatim (2026-09-20): "Veo 3.1 Standard video with
# audio $0.40 (720p and 1080p), $0.60 (4k)". The other rows are Google's figures as third parties copy them
# (aifreeapi.com's Veo 3.1 guide, checked against ai.google.dev in 2026-03: Fast $0.15/s at 720p/1080p; the
# project's reference table: Fast 4K $0.35/s); Veo 3 $0.40 / Veo 3 Fast $0.15 and Veo 2 $0.35/s as Google set
# them. Where only a copy was read, the highest figure is used.
VEO_OFFICIAL = "Google's list price, with sound"
VEO_COPIED = "Google's list price as third parties copy it (the page was not read here); quoted high"


def _veo(
    model: str,
    name: str,
    what: str,
    *,
    rate: float,
    note: str,
    durations: tuple[float, ...] = (4.0, 6.0, 8.0),
    resolutions: tuple[str, ...] = ("720p", "1080p"),
    factor: dict[str, float] | None = None,
    audio: bool = True,
    end_image: bool = False,
    typical: float = 90.0,
) -> ModelSpec:
    sound = "always with sound" if audio else "silent"
    # The rule says what one rate covers: every resolution (without a factor), and the sound that is always made.
    at = f"the same at {' and '.join(resolutions)}" if len(resolutions) > 1 and not factor else ""
    sound_said = "sound included" if audio and "sound" not in note else ""
    note = "; ".join(part for part in (note, at, sound_said) if part)
    return ModelSpec(
        id=model,
        name=name,
        description=f"{what}; {'/'.join(f'{d:g}' for d in durations)} s, {', '.join(resolutions)}, {sound}.",
        modes=("text_to_video", "image_to_video"),
        durations=durations,
        default_duration=8.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=resolutions,
        default_resolution="720p",
        audio=audio,
        default_audio=audio,
        max_images=1,
        end_image=end_image,
        negative_prompt=True,
        seed=False,  # the Developer API refuses seed (the SDK raises before sending it)
        max_prompt_chars=1024,  # Veo's prompt limit is 1,024 tokens: a character cap at least that strict
        price=PriceRule(per_second=rate, resolution_factor=factor or {}, note=note),
        price_source=PRICING,
        price_checked=PRICE_CHECKED,
        typical_seconds=typical,
    )


VEO_MODELS: tuple[ModelSpec, ...] = (
    _veo(
        "veo-3.1-generate-preview",
        "Veo 3.1 (preview)",
        "Google's Veo 3.1: text, a start image, or start and last frames",
        rate=0.40,
        resolutions=("720p", "1080p", "4k"),
        factor={"4k": 1.5},
        end_image=True,
        note=f"$0.40/s at 720p and 1080p, $0.60/s at 4K; {VEO_OFFICIAL}",
    ),
    _veo(
        "veo-3.1-fast-generate-preview",
        "Veo 3.1 Fast (preview)",
        "Veo 3.1 Fast: text, a start image, or start and last frames",
        rate=0.15,
        resolutions=("720p", "1080p", "4k"),
        factor={"4k": 0.35 / 0.15},
        end_image=True,
        typical=60.0,
        note=f"$0.15/s at 720p and 1080p, $0.35/s at 4K; {VEO_COPIED}",
    ),
    _veo(
        "veo-3.0-generate-001",
        "Veo 3",
        "Veo 3: text or a start image; 1080p in 16:9 only",
        rate=0.40,
        note=f"$0.40/s; {VEO_COPIED}",
    ),
    _veo(
        "veo-3.0-fast-generate-001",
        "Veo 3 Fast",
        "Veo 3 Fast: text or a start image; 1080p in 16:9 only",
        rate=0.15,
        typical=60.0,
        note=f"$0.15/s; {VEO_COPIED}",
    ),
    _veo(
        "veo-2.0-generate-001",
        "Veo 2",
        "Veo 2: text or a start image",
        rate=0.35,
        durations=(5.0, 6.0, 8.0),
        resolutions=("720p",),
        audio=False,
        note=f"$0.35/s; {VEO_COPIED}",
    ),
)
VEO_IDS = frozenset(spec.id for spec in VEO_MODELS)
MODELS: tuple[ModelSpec, ...] = OMNI_MODELS + VEO_MODELS


def is_veo(model: str) -> bool:
    """Whether a model is served by predictLongRunning (Veo) rather than the Interactions API (Omni)."""
    return model in VEO_IDS


# -- the declaration: Google's answers (types/interactions/interaction.py, videocontent.py, error.py) as typed
# wire models, read tolerantly, and what each status, error answer and failure means in our terms.


class Content(Wire):
    type: str = ""
    data: str | None = None
    uri: str | None = None
    mime_type: str | None = None
    text: str | None = None


class Status(Wire):
    """google.rpc.Status on a model_output step; Error ({code: a string, message}) on the interaction."""

    code: str | None = None
    message: str = ""


class Step(Wire):
    type: str = ""
    content: list[Content] = Field(default_factory=list)
    error: Status | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _blocks(cls, value: Any) -> Any:
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class ModalityTokens(Wire):
    modality: str = ""
    tokens: float = 0


class Usage(Wire):
    output_tokens_by_modality: list[ModalityTokens] = Field(default_factory=list)


class Interaction(TaskAnswer, Accepted):
    """GET /v1/interactions/{id}. `errors` is the SDK's; `error` and `finish_reason` are seen on live answers."""

    id: str = ""
    status: str = ""
    steps: list[Step] = Field(default_factory=list)
    errors: list[Status] = Field(default_factory=list)
    error: Status | None = None
    finish_reason: str = ""
    output_video: Content | None = None
    usage: Usage | None = None

    @field_validator("steps", "errors", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    @field_validator("error", "usage", "output_video", mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    @field_validator("finish_reason", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return value if isinstance(value, str) else ""

    def video(self) -> Content | None:
        """The last video the model output (what the SDK's output_video picks), with data or a uri."""
        blocks = [c for s in self.steps if s.type == "model_output" for c in s.content if c.type == "video"]
        found = [b for b in blocks if b.data or b.uri] or ([self.output_video] if self.output_video else [])
        return found[-1] if found and (found[-1].data or found[-1].uri) else None

    def made_video(self) -> bool:
        """Whether usage counts video tokens: a video was made (and billed), wherever it is."""
        rows = self.usage.output_tokens_by_modality if self.usage else []
        return any(row.modality.lower() == "video" and row.tokens > 0 for row in rows)

    def said(self) -> str:
        """What the model answered in text (a refusal explains itself there)."""
        texts = [c.text for s in self.steps if s.type == "model_output" for c in s.content if c.type == "text"]
        return " ".join(t.strip() for t in texts if t and t.strip())

    def job_video(self) -> str | None:
        """Only a sign that there is a video (`fetch` reads it): its uri, or "inline"."""
        video = self.video()
        return (video.uri or "inline") if video else None

    def job_failure(self) -> tuple[str, str]:
        return "", self.failure()

    def failure(self) -> str:
        errors = [*self.errors, *([self.error] if self.error else []), *(s.error for s in self.steps if s.error)]
        said = [f"{e.code}: {e.message}" if e.code and e.message else e.message or e.code or "" for e in errors]
        if self.finish_reason:
            said.append(f"finish_reason {self.finish_reason}")
        return "; ".join(m.strip().rstrip(".") for m in said if m and m.strip())


# Safety, as a whole token (a status, code or finish_reason) or in the "blocked ... for safety" phrasing: a
# message that only names a field such as safety_settings, or API_KEY_SERVICE_BLOCKED, is not a refusal.
SAFETY_TOKEN = re.compile(r"\b(IMAGE_)?(SAFETY|PROHIBITED_CONTENT|BLOCKLIST|SPII)\b")
SAFETY_PHRASE = re.compile(r"\bblocked\b[^.]*\b(safety|policy|policies)\b|\bsafety polic", re.IGNORECASE)
ENDED: dict[str, tuple[ErrorCode, bool, str]] = {
    "incomplete": (ErrorCode.PROVIDER_FAILED, True, "Google stopped before the video was finished; submit again"),
    "budget_exceeded": (
        ErrorCode.OUT_OF_CREDIT,
        False,
        "the interaction ran over its budget; check billing in Google AI Studio, or ask for a shorter video",
    ),
    "requires_action": (ErrorCode.PROVIDER_FAILED, False, "Google asked for a tool action a video job cannot give"),
    "requires_continuation": (ErrorCode.PROVIDER_FAILED, True, "Google paused the interaction; submit again"),
}
_CASED_SAFETY = f"(?-i:{SAFETY_TOKEN.pattern})"  # Rule.text ignores case; the tokens are upper case only


def is_safety(text: str) -> bool:
    return bool(SAFETY_TOKEN.search(text) or SAFETY_PHRASE.search(text))


STATUS = {
    "queued": State("queued", "waiting in Google's queue"),
    "in_progress": State("running", "generating at Google"),
    "idle": State("running", "generating at Google"),
    "completed": State("succeeded", "generated; downloading from Google"),
    "cancelled": State("cancelled", "cancelled at Google Gemini"),
    "failed": State("failed"),
    **{status: State("failed") for status in ENDED},
}
_BLOCKED = "Google's safety filters blocked the video{said}. Change the prompt or image and submit again."
FAILURES = (
    Rule(ErrorCode.CONTENT_POLICY, _BLOCKED, text=_CASED_SAFETY),
    Rule(ErrorCode.CONTENT_POLICY, _BLOCKED, text=SAFETY_PHRASE.pattern),
    *(
        Rule(code, "Google interaction {state}{said}. " + advice + ".", state=status, retryable=retryable)
        for status, (code, retryable, advice) in ENDED.items()
    ),
)


class Problem(ErrorAnswer):
    """The front end's google.rpc {"error": {"code": 400, "message", "status", "details": [{"reason"}]}}
    (sometimes in a one-item list), and the Interactions endpoints' own {"error": {"code": "invalid_request",
    "message"}}. Its code is the status word (or string code), or API_KEY_INVALID when the details say so."""

    @classmethod
    def of(cls, response: Any) -> Problem:
        found = cls()
        body = json_body(response)
        found.raw = body[0] if isinstance(body, list) and body else body
        return found

    def _error(self) -> dict[str, Any]:
        error = self.raw.get("error") if isinstance(self.raw, dict) else None
        return error if isinstance(error, dict) else {}

    def word(self) -> str:
        code = self._error().get("code")
        return str(self._error().get("status") or (code if isinstance(code, str) else ""))

    def error_code(self) -> str:
        reasons = [d.get("reason", "") for d in self._error().get("details") or [] if isinstance(d, dict)]
        return "API_KEY_INVALID" if next((r for r in reasons if r), "") == "API_KEY_INVALID" else self.word()

    def error_text(self) -> str:
        message = " ".join(str(self._error().get("message") or "").split())
        return message if len(message) <= 400 else message[:399] + "…"

    def fields(self, status: int | None) -> dict[str, Any]:
        word, message = self.word(), self.error_text()
        return {"said": f" {word}" if word else "", "detail": f": {message.rstrip('.')}" if message else ""}


# HTTP errors (ai.google.dev/gemini-api/docs/troubleshooting).
_KEY = (
    "Google rejected the API key (HTTP {status}{said}){detail}. Check GEMINI_API_KEY (or GOOGLE_API_KEY, which wins "
    "when both are set): a key from aistudio.google.com/apikey, with the Gemini API enabled."
)
# A depleted prepaid balance, or billing never enabled (Omni has no free tier); a quota 429 also names "billing
# details", so the words alone do not decide it.
_FUNDS = (
    "Google: no funds for this video (HTTP {status}{said}){detail}. Gemini Omni has no free tier: enable billing or "
    "top up prepaid credits in Google AI Studio, or ask for a shorter or lower-resolution video."
)
_REFUSED = "Google's safety filters refused the request (HTTP 400{said}){detail}. Change the prompt or image."
_UNKNOWN = "Google has no such interaction (HTTP {status}{said}){detail}."
ERRORS = (
    Rule(ErrorCode.AUTH, _KEY, match="^API_KEY_INVALID$"),
    Rule(ErrorCode.AUTH, _KEY, text="api key not valid"),
    Rule(ErrorCode.AUTH, _KEY, status=(401, 403)),
    Rule(ErrorCode.OUT_OF_CREDIT, _FUNDS, text="(?s)^(?=.*credits)(?=.*depleted)", retryable=False),
    Rule(ErrorCode.OUT_OF_CREDIT, _FUNDS, match="^FAILED_PRECONDITION$", text="billing", retryable=False),
    # Refused at the door: nothing was made.
    Rule(ErrorCode.CONTENT_POLICY, _REFUSED, status=400, match=SAFETY_TOKEN.pattern),
    Rule(ErrorCode.CONTENT_POLICY, _REFUSED, status=400, text=_CASED_SAFETY),
    Rule(ErrorCode.CONTENT_POLICY, _REFUSED, status=400, text=SAFETY_PHRASE.pattern),
    Rule(
        ErrorCode.INVALID_INPUT,
        "Google does not serve this model (HTTP 404{said}){detail}; pick another with list_models.",
        status=404,
        text="is not found for API version|not supported for predictLongRunning",
        retryable=False,
    ),
    Rule(ErrorCode.NOT_FOUND, _UNKNOWN, status=404),
    Rule(ErrorCode.NOT_FOUND, _UNKNOWN, status=400, text="invalid interaction name"),  # an unknown id is a 400 there
    Rule(ErrorCode.INVALID_INPUT, "Google rejected the request (HTTP 400{said}){detail}; fix the request.", status=400),
    Rule(
        ErrorCode.RATE_LIMITED,
        "Google rate limit or quota reached (HTTP 429{said}){detail}. Wait a minute and try again, or raise the "
        "project's tier in Google AI Studio.",
        status=429,
    ),
    Rule(
        ErrorCode.TRANSIENT,
        "Google is overloaded or failed (HTTP {status}{said}){detail}; try again shortly.",
        status=range(500, 600),
    ),
)


# -- Veo's answers: a long-running Operation (google.longrunning.Operation, read as the SDK reads it in
# _GenerateVideosOperation_from_mldev) and what it means in our terms.
OPERATION_NAME = re.compile(r"^models/[A-Za-z0-9._-]+/operations/[A-Za-z0-9_-]+$")


class VeoVideo(Wire):
    uri: str | None = None
    encoded_video: str | None = Field(None, alias="encodedVideo")  # inline bytes (_Video_from_mldev)
    encoding: str | None = None


class VeoSample(Wire):
    video: VeoVideo | None = None


class VeoResult(Wire):
    generated_samples: list[VeoSample] = Field(default_factory=list, alias="generatedSamples")
    rai_media_filtered_count: int = Field(0, alias="raiMediaFilteredCount")
    rai_media_filtered_reasons: list[str] = Field(default_factory=list, alias="raiMediaFilteredReasons")

    @field_validator("generated_samples", "rai_media_filtered_reasons", mode="before")
    @classmethod
    def _items(cls, value: Any) -> Any:
        return [v for v in value if isinstance(v, (dict, str))] if isinstance(value, list) else []


class VeoResponse(Wire):
    generate_video_response: VeoResult | None = Field(None, alias="generateVideoResponse")


class RpcStatus(Wire):
    """google.rpc.Status: {code: an int, message, details}."""

    code: str | None = None
    message: str = ""


class Operation(Wire):
    name: str = ""
    done: bool = False
    error: RpcStatus | None = None
    response: VeoResponse | None = None

    @field_validator("error", "response", mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    def result(self) -> VeoResult | None:
        return self.response.generate_video_response if self.response else None

    def video(self) -> VeoVideo | None:
        """The first generated video with a uri or inline bytes (we ask for one)."""
        samples = self.result().generated_samples if self.result() else []  # type: ignore[union-attr]
        found = [s.video for s in samples if s.video and (s.video.uri or s.video.encoded_video)]
        return found[0] if found else None


# google.rpc codes (google/rpc/code.proto) of a failed operation that name a request Google will not take again.
RPC_INVALID = {"3": "INVALID_ARGUMENT", "9": "FAILED_PRECONDITION", "11": "OUT_OF_RANGE"}


def veo_snapshot(found: Operation) -> Snapshot:
    """A Veo operation in our terms."""
    if found.error is not None:
        error = veo_error(found.error)
        return Snapshot(status="failed", error=error, message=error.message)
    if not found.done:
        return Snapshot(status="running", message="generating at Google (Veo)")
    if found.video() is not None:
        return Snapshot(status="succeeded", progress=1.0, message="generated; downloading from Google")
    result = found.result()
    reasons = "; ".join(r.strip().rstrip(".") for r in (result.rai_media_filtered_reasons if result else []))
    if result is not None and (reasons or result.rai_media_filtered_count):
        said = f": {reasons[:300]}" if reasons else ""
        error = ProviderErrorInfo(
            code=ErrorCode.CONTENT_POLICY,
            message=f"Google's safety filters blocked the Veo video{said}. Change the prompt or image and submit "
            "again.",
        )
    else:
        error = ProviderErrorInfo(
            code=ErrorCode.PROVIDER_FAILED,
            message=f"Google finished Veo operation {found.name} without a video or a reason; submitting again "
            "usually works.",
            retryable=True,
        )
    return Snapshot(status="failed", error=error, message=error.message)


def veo_error(status: RpcStatus) -> ProviderErrorInfo:
    """A failed operation's google.rpc.Status: safety, a request Google refuses, or a fault at Google."""
    code, message = status.code or "", " ".join(status.message.split())[:400].rstrip(".")
    label = f"{code} {RPC_INVALID.get(code, '')}".strip() if code else "no code"
    said = f" ({label}): {message}" if message else f" ({label})"
    if is_safety(message) or re.search(r"\b(usage guidelines|responsible ai|rai)\b", message, re.IGNORECASE):
        return ProviderErrorInfo(
            code=ErrorCode.CONTENT_POLICY,
            message=f"Google's safety filters blocked the Veo video{said}. Change the prompt or image and submit "
            "again.",
        )
    if code in RPC_INVALID:
        return ProviderErrorInfo(
            code=ErrorCode.INVALID_INPUT, message=f"Google refused the Veo request{said}; fix the request."
        )
    return ProviderErrorInfo(
        code=ErrorCode.PROVIDER_FAILED,
        message=f"Google's Veo operation failed{said}; a fault at Google, submitting again usually works.",
        retryable=True,
    )


class GoogleProvider(TaskProvider[Interaction, Interaction]):
    name = "google"
    title = "Google Gemini"
    env_vars = ("GEMINI_API_KEY",)
    base_url_default = "https://generativelanguage.googleapis.com"
    default_model = "gemini-omni-1.2-flash"
    models = MODELS
    supports_cancel = True
    supports_callbacks = True

    submit_path = f"/{API_VERSION}/interactions"
    status_path = f"/{API_VERSION}/interactions/{{ref}}"
    cancel_path = f"/{API_VERSION}/interactions/{{ref}}/cancel"
    cancel_method = "POST"
    id_field = "interaction id"
    where_to_check = "usage in Google AI Studio"
    unreadable = "Google answered a status check with something not an interaction"
    accepted_model = Interaction
    status_model = Interaction
    error_model = Problem
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "Google reports {state!r}; still watching")
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "Google interaction {state}{said}. a fault at Google; submitting again usually works.",
        retryable=True,
    )
    fetches_video = True  # a Files API uri needs the key: `fetch` reads it

    # -- credentials: either variable will do ---------------------------------------------------
    def api_key(self) -> str:
        return next((self.env[var].strip() for var in KEY_VARS if self.env.get(var, "").strip()), "")

    def configured(self) -> bool:
        return bool(self.api_key())

    def missing_env(self) -> list[str]:
        return [] if self.configured() else ["GEMINI_API_KEY"]

    def secrets(self) -> list[str]:
        return [self.env[var] for var in KEY_VARS if self.env.get(var)]

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        """Every 5-10 s (a clip takes about a minute), jittered so jobs sent together do not poll together."""
        return min(10.0, max(5.0, spec.typical_seconds / 10, 1.0 + elapsed / 10)) * random.uniform(0.85, 1.15)

    def check(self, request: VideoRequest) -> None:
        if is_veo(request.model):
            return veo_check(request)
        if not request.audio:
            raise InvalidRequest("Gemini Omni always makes video with sound; leave audio unset or set it to true")
        for image in request.images:
            if images.classify(image) == "url" and urlsplit(image).scheme.lower() != "https":
                raise InvalidRequest(
                    f"Gemini takes image URLs only over https://, not {image[:80]!r}; pass an https URL or a local file"
                )

    # -- the job life cycle: Omni by the template, Veo by its operations ------------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        if not is_veo(request.model):
            return await super().submit(job_id, request, callback_url)
        body = await anyio.to_thread.run_sync(self.veo_body, request)  # reads and encodes the images
        if callback_url:  # as the SDK's converter sends GenerateVideosConfig.webhook_config (a "video.generated" event)
            body["webhookConfig"] = {"uris": [callback_url], "user_metadata": {"videogen_job_id": job_id}}
        path = f"/{VEO_API_VERSION}/models/{quote(request.model, safe='')}:predictLongRunning"
        status, answer = await self.call("POST", path, json=body)
        found = Operation.read(answer)
        if found is None or not OPERATION_NAME.match(found.name):
            raise self.no_id(status, job_id, what="the Veo request", id_field="operation name")
        return Submission(ref=found.name, state={"api": "predictLongRunning"})

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        if not is_veo(request.model):
            return await super().poll(submission, request)
        return veo_snapshot(await self._operation(submission))

    def cancels(self, model: str) -> bool:
        return model not in VEO_IDS  # Veo's operations have no cancel

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        if not is_veo(request.model):
            return await super().cancel(submission, request)
        raise ProviderError(
            ErrorCode.INVALID_INPUT,
            "Google's Gemini API cannot cancel a Veo video once submitted (its operations have no cancel); it "
            "runs to the end and is charged",
            retryable=False,
        )

    async def _operation(self, submission: Submission) -> Operation:
        if not OPERATION_NAME.match(submission.ref):  # stored by us; never a path of another shape
            raise ProviderError(ErrorCode.INTERNAL, f"not a Veo operation name: {submission.ref[:80]!r}")
        _, answer = await self.call("GET", f"/{VEO_API_VERSION}/{submission.ref}")
        found = Operation.read(answer)
        if found is None or not found.name:
            raise ProviderError(
                ErrorCode.TRANSIENT, "Google answered a Veo status check with something not an operation"
            )
        return found

    def add_callback(self, body: dict[str, Any], callback_url: str, job_id: str) -> None:
        body["webhook_config"] = {"uris": [callback_url], "user_metadata": {"videogen_job_id": job_id}}

    def missing_video(self, task: Interaction, submission: Submission | None, request: VideoRequest | None) -> Snapshot:
        error = no_video_error(task)
        return Snapshot(status="failed", error=error, message=error.message)

    def failure_fields(self, task: Interaction, matched: str) -> dict[str, Any]:
        reason = task.failure()
        return {"said": f": {reason}" if reason else ""}

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """A webhook event only says something changed (its body is not typed by the SDK): poll to read it."""
        return None

    async def fetch(self, snapshot: Snapshot, submission: Submission, request: VideoRequest, dest: Path) -> None:
        """The finished video, read again from the interaction or operation (inline base64, or its uri downloaded)."""
        video: Content | None
        if is_veo(request.model):
            veo = (await self._operation(submission)).video()
            if veo is None:
                raise ProviderError(ErrorCode.DOWNLOAD_FAILED, "Google's finished Veo operation holds no video.")
            video = Content(type="video", data=veo.encoded_video, uri=veo.uri)
        else:
            _, body = await self.call("GET", self._path(submission))
            found = Interaction.read(body)
            video = found.video() if found else None
        if video is None:
            raise ProviderError(ErrorCode.DOWNLOAD_FAILED, "Google's finished interaction no longer holds the video.")
        if video.data:
            try:
                data = base64.b64decode(video.data, validate=True)
            except (binascii.Error, ValueError):
                raise ProviderError(ErrorCode.DOWNLOAD_FAILED, "Google sent video data that is not base64.") from None
            await anyio.Path(dest).write_bytes(data)
            return
        await anyio.Path(dest).write_bytes(await self._download(video.uri or ""))

    async def _download(self, uri: str) -> bytes:
        """A uri on the API's own origin is fetched with the key (the Files API needs it), and a redirect from
        there is followed once without it; any other uri is fetched without it: the key never leaves the API."""
        parts = urlsplit(uri)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ProviderError(
                ErrorCode.DOWNLOAD_FAILED,
                f"Google gave a video location this server cannot read ({uri[:60]!r}); a gs:// URI is Vertex's.",
            )
        own = urlsplit(self.base_url)
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
            return await _fetch_without_key(uri)
        response = await self.http.request("GET", uri, expected=(200, *REDIRECTS))  # never followed with the key
        if response.status_code in REDIRECTS:
            location = response.headers.get("location", "")
            if not location:
                raise ProviderError(ErrorCode.DOWNLOAD_FAILED, "Google redirected the video download to nowhere")
            return await _fetch_without_key(urljoin(uri, location))
        return _capped(response.content)

    def _path(self, submission: Submission) -> str:
        return f"/{API_VERSION}/interactions/{quote(submission.ref, safe='')}"

    # -- request mapping -----------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The create-interaction body for a validated request (field names as in CreateModelInteraction)."""
        content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
        content += [self.image_block(image) for image in request.images]
        return {
            "model": request.model,
            # A content list goes as one user_input step, as the SDK itself sends it.
            "input": [{"type": "user_input", "content": content}] if request.images else request.prompt,
            "background": True,
            "generation_config": {"video_config": {"task": request.mode}},
            "response_format": {
                "type": "video",
                "aspect_ratio": request.aspect_ratio,
                "resolution": request.resolution,
                "duration": f"{int(request.duration)}s",  # a protobuf Duration string, like "8s"
                "delivery": "uri",
            },
        }

    def image_block(self, value: str) -> dict[str, Any]:
        """An https URL as a `uri`; a local file or data URI inline (base64 `data` + `mime_type`)."""
        if images.classify(value) == "url":
            return {"type": "image", "uri": images.check_url(value)}
        data, mime = images.to_bytes(value, self.allowed_dirs, MAX_INLINE_IMAGE_BYTES)
        return {"type": "image", "data": base64.b64encode(data).decode(), "mime_type": mime}

    def veo_body(self, request: VideoRequest) -> dict[str, Any]:
        """The predictLongRunning body, as google-genai's Developer-API converter writes it: one instance, images as
        bytes, camelCase parameters; no seed and no generateAudio (the Developer API refuses both)."""
        instance: dict[str, Any] = {"prompt": request.prompt}
        if request.images:
            instance["image"] = self.veo_image(request.images[0])
        if request.end_image:
            instance["lastFrame"] = self.veo_image(request.end_image)
        parameters: dict[str, Any] = {
            "aspectRatio": request.aspect_ratio,
            "durationSeconds": int(request.duration),
            "sampleCount": 1,  # one video, one charge
        }
        if request.model != "veo-2.0-generate-001":  # Veo 2 has no resolution setting (720p)
            parameters["resolution"] = request.resolution
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        return {"instances": [instance], "parameters": parameters}

    def veo_image(self, value: str) -> dict[str, str]:
        data, mime = images.to_bytes(value, self.allowed_dirs, MAX_INLINE_IMAGE_BYTES)
        return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime}

    # -- HTTP ----------------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        key = self.api_key()
        if not key:
            raise ProviderError(
                ErrorCode.NOT_CONFIGURED, "Set GEMINI_API_KEY (or GOOGLE_API_KEY) to a key from Google AI Studio."
            )
        return {"auth": lambda: {"x-goog-api-key": key}, "error_mapper": self.error_for}


async def _fetch_without_key(url: str) -> bytes:
    """A video from outside the API (storage, a CDN): a fresh client, so no credential can ride along."""
    import httpx

    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=10.0), follow_redirects=True) as client:
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            raise ProviderError(
                ErrorCode.DOWNLOAD_FAILED, f"could not download the video from Google ({type(exc).__name__})"
            ) from None
    if response.status_code != 200:
        raise ProviderError(ErrorCode.DOWNLOAD_FAILED, f"Google's video link answered HTTP {response.status_code}")
    return _capped(response.content)


def _capped(data: bytes) -> bytes:
    if len(data) > MAX_VIDEO_BYTES:
        raise ProviderError(ErrorCode.DOWNLOAD_FAILED, "Google's video is larger than 2 GB", retryable=False)
    return data


def veo_check(request: VideoRequest) -> None:
    """Veo's rules the ModelSpec cannot say (ai.google.dev/gemini-api/docs/video; the SDK's converter)."""
    spec = next(m for m in VEO_MODELS if m.id == request.model)
    if spec.audio and not request.audio:
        raise InvalidRequest(f"{spec.name} on the Gemini API always makes sound; leave audio unset or set it to true")
    if request.resolution in ("1080p", "4k") and request.duration != 8:
        raise InvalidRequest(f"{spec.name} makes {request.resolution} only at 8 s; set duration to 8 or use 720p")
    if request.model.startswith("veo-3.0-") and request.resolution == "1080p" and request.aspect_ratio != "16:9":
        raise InvalidRequest(f"{spec.name} makes 1080p only in 16:9; use 720p for 9:16")
    for image in [*request.images, *([request.end_image] if request.end_image else [])]:
        if images.classify(image) == "url":
            raise InvalidRequest(
                "Veo on the Gemini API takes the image itself, not a URL; pass a local file path or a data URI "
                f"instead of {image[:80]!r}"
            )


def no_video_error(found: Interaction) -> ProviderErrorInfo:
    """A completed interaction without a video: a refusal (text only, no video tokens: how a safety refusal
    comes back), or a video made and billed that this adapter could not find (a shape change to report)."""
    if found.made_video():
        return ProviderErrorInfo(
            code=ErrorCode.PROVIDER_FAILED,
            message=f"Google made a video (interaction {found.id}) but its answer holds none this server can read; "
            "it was billed: report it rather than submitting again",
        )
    said = found.said() or found.failure()
    said = f": {said[:300]}" if said else ""
    return ProviderErrorInfo(
        code=ErrorCode.CONTENT_POLICY,
        message=f"Google declined to make the video{said}. This is how its safety filters answer: change the prompt "
        "or image and submit again.",
    )


# Kept for callers of the module's functions (tests): the declaration's shared steps.
error_for = GoogleProvider.error_for


def snapshot(body: Any) -> Snapshot:
    """An Interaction in our terms."""
    return GoogleProvider({}).read_status(body)
