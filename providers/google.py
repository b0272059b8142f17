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


MODELS: tuple[ModelSpec, ...] = (
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
        if not request.audio:
            raise InvalidRequest("Gemini Omni always makes video with sound; leave audio unset or set it to true")
        for image in request.images:
            if images.classify(image) == "url" and urlsplit(image).scheme.lower() != "https":
                raise InvalidRequest(
                    f"Gemini takes image URLs only over https://, not {image[:80]!r}; pass an https URL or a local file"
                )

    # -- the job life cycle --------------------------------------------------------------------
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
        """The finished video, read again from the interaction (inline base64, or its uri downloaded)."""
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
