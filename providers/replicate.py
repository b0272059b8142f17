"""Replicate's Predictions API (api.replicate.com): curated official video models, priced as Replicate prices them.

Wire contract from the official SDK (replicate 1.0.7: client.py, prediction.py, model.py, exceptions.py,
webhook.py) and Replicate's docs (topics/predictions/lifecycle, topics/webhooks):
  POST /v1/models/{owner}/{name}/predictions {input, webhook, webhook_events_filter} -> a prediction
    (official models take no version; others POST /v1/predictions with `version`)
  GET /v1/predictions/{id} -> starting | processing (+logs) | succeeded (+output) | failed (+error) | canceled,
    and `aborted` (the docs: a deadline passed before it started; SDK 1.0.7 does not know it yet)
  POST /v1/predictions/{id}/cancel -> the prediction
Every request carries `Authorization: Bearer <REPLICATE_API_TOKEN>`. Errors are RFC 7807 problem details
{title, detail, status} (ReplicateError.from_response). A webhook POSTs the prediction itself.

Declared on the task template (providers.base.TaskProvider): the prediction is one wire model (submit answer,
status, webhook body), its statuses, failures and problem-details errors are STATUS / FAILURES / ERRORS tables,
and submit, poll, callbacks and cancel are the template's steps. Overridden where Replicate differs: `submit`
(an unpriced model is refused before any request), `add_callback` (webhook + webhook_events_filter),
`submit_path_for` (the model's own predictions path), `state_message` (the latest log line), `missing_video`
(an output deleted after its hour), `auth_headers` (the token is sent as set, even empty, so `describe` and
`search` behave as before). ERRORS' 404 row names a prediction or a model by the request's path (Problem.of
reads it: the tables have no path condition). `describe` and `search` are Replicate's own, unchanged.

Outputs are deleted an hour after a prediction finishes, so the engine downloads the video as soon as it sees
`succeeded`. Replicate keeps no reference of ours: a submit cut off mid-way cannot be reconciled.

Prices and input fields: each model's page on replicate.com (price_source); the figures were read from a
transcript of those pages fetched 2026-10-06 (price_checked), not from the pages today.

Any other model is reached by `describe("owner/name")`: its latest version's published OpenAPI Input schema
(GET /v1/models/{owner}/{name}) becomes a ModelSpec (our fields mapped onto the schema's where they fit) and
each request is checked against that schema before it is sent. Replicate's API publishes no price, so such a
model is unpriced: `submit` refuses it (NEEDS_CONFIRMATION) unless the person running the server has approved
it by name in VIDEOGEN_REPLICATE_UNPRICED (its price is on its replicate.com page). A schema is trusted for
DESCRIBE_TTL seconds, then read again (kept if Replicate cannot be reached). `search` asks Replicate's search
API (GET /v1/search?query=, replicate-python-beta's SearchResponse) and keeps the hits its tags or descriptions
call video: a Cog output schema says only "a file URL".
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

import anyio
from pydantic import ConfigDict, PrivateAttr

from providers import base, images  # base.Wire: `Wire` here is a model's input fields
from providers.base import (
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
    Mode,
    ModelSpec,
    PriceRule,
    ProviderError,
    Rule,
    Snapshot,
    State,
    Submission,
    TaskAnswer,
    TaskProvider,
    Tuning,
    VideoRequest,
    json_body,
)
from providers.wire import Lenient, Maybe

if TYPE_CHECKING:
    import httpx

TEXT: Mode = "text_to_video"
IMAGE: Mode = "image_to_video"
BOTH: tuple[Mode, ...] = (TEXT, IMAGE)
PRICE_CHECKED = "2026-10-06"  # the date of the transcript of the model pages the prices were read from
BILLING = "https://replicate.com/account/billing"
TOKENS = "https://replicate.com/account/api-tokens"
# Events we ask webhooks for: start (queued -> running) and completed (any end). Not logs/output: a video
# model's output arrives once, at the end, and a POST per log line would outnumber our polls.
WEBHOOK_EVENTS = ["start", "completed"]
# The SDK's Prediction.Progress pattern: a tqdm line "  42%|████      | 21/50 [...]".
_PROGRESS = re.compile(r"^\s*(\d+)%\s*\|.+?\|\s*(\d+)/(\d+)")
_CONTENT = re.compile(r"\bE005\b|flagged as sensitive|nsfw|safety|content polic|moderat", re.IGNORECASE)


def _page(model: str) -> str:
    return f"https://replicate.com/{model}"


@dataclass(frozen=True)
class Wire:
    """Where a request goes in one model's input (field names from its published Input schema)."""

    start: str = ""  # the start image's field ("" for text-only models)
    end: str = ""  # the last frame's field ("" when the model takes none)
    ratio: bool = True  # sends aspect_ratio (from text only: with a start image the image sets the shape)
    resolution: bool = False
    audio: str = ""  # the audio switch's field, always sent (Replicate's defaults turn audio on)
    duration: bool = True  # sends duration (integer seconds)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # sent as is, so results and prices do not drift


def _spec(model: str, name: str, description: str, **fields: Any) -> ModelSpec:
    return ModelSpec(id=model, name=name, description=description, price_source=_page(model), **fields)


KLING_26 = "kwaivgi/kling-v2.6"
VEO_31_FAST = "google/veo-3.1-fast"
SEEDANCE_1_PRO = "bytedance/seedance-1-pro"
WAN_22_T2V = "wan-video/wan-2.2-t2v-fast"
WAN_22_I2V = "wan-video/wan-2.2-i2v-fast"
WAN_NOTE = "81 frames at 16 fps (about 5 s), priced per video"

MODELS: tuple[ModelSpec, ...] = (
    _spec(
        KLING_26,
        "Kling 2.6 (Replicate)",
        "Kling 2.6 Pro: text or a start image, 5/10 s, optional audio; output size unstated (1080p assumed).",
        modes=BOTH,
        durations=(5.0, 10.0),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("1080p",),  # no resolution input; the page does not state the output size
        default_resolution="1080p",
        audio=True,
        max_images=1,
        negative_prompt=True,
        price=PriceRule(per_second=0.07, per_second_audio=0.14, note="audio doubles the rate"),
        price_checked=PRICE_CHECKED,
        typical_seconds=150.0,
    ),
    _spec(
        VEO_31_FAST,
        "Veo 3.1 Fast (Replicate)",
        "Google's Veo 3.1 Fast: text or first (+last) frame, 4/6/8 s, 720p/1080p, audio.",
        modes=BOTH,
        durations=(4.0, 6.0, 8.0),
        default_duration=8.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),
        default_resolution="1080p",
        audio=True,
        max_images=1,
        end_image=True,
        negative_prompt=True,
        seed=True,
        price=PriceRule(per_second=0.10, per_second_audio=0.15, note="same rate at 720p and 1080p"),
        price_checked=PRICE_CHECKED,
        typical_seconds=90.0,
    ),
    _spec(
        SEEDANCE_1_PRO,
        "Seedance 1 Pro (Replicate)",
        "ByteDance Seedance 1 Pro: text or first (+last) frame, 2-12 s, 480p-1080p.",
        modes=BOTH,
        durations=tuple(float(s) for s in range(2, 13)),
        default_duration=5.0,
        aspect_ratios=("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21"),
        default_aspect_ratio="16:9",
        resolutions=("480p", "720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        end_image=True,
        seed=True,
        price=PriceRule(per_second=0.03, resolution_factor={"720p": 2.0, "1080p": 5.0}, note="$0.03/s at 480p"),
        price_checked=PRICE_CHECKED,
        typical_seconds=90.0,
    ),
    _spec(
        WAN_22_T2V,
        "Wan 2.2 T2V Fast (Replicate)",
        "Wan 2.2 A14B, PrunaAI's fast build: text only, about 5 s, 480p/720p, cheap.",
        modes=(TEXT,),
        durations=(5.0,),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16"),
        default_aspect_ratio="16:9",
        resolutions=("480p", "720p"),
        default_resolution="480p",
        seed=True,
        price=PriceRule(by_duration={"5": 0.05}, resolution_factor={"720p": 2.0}, note=WAN_NOTE),
        price_checked=PRICE_CHECKED,
        typical_seconds=40.0,
    ),
    _spec(
        WAN_22_I2V,
        "Wan 2.2 I2V Fast (Replicate)",
        "Wan 2.2 A14B fast build: animates a start (+last) image, about 5 s, 480p/720p; shape follows the image.",
        modes=(IMAGE,),
        durations=(5.0,),
        default_duration=5.0,
        aspect_ratios=("16:9", "9:16", "1:1"),
        default_aspect_ratio="16:9",
        resolutions=("480p", "720p"),
        default_resolution="480p",
        max_images=1,
        end_image=True,
        seed=True,
        price=PriceRule(
            by_duration={"5": 0.05}, resolution_factor={"720p": 2.2}, note=f"{WAN_NOTE}, no frame interpolation"
        ),
        price_checked=PRICE_CHECKED,
        typical_seconds=40.0,
    ),
)

WIRES: dict[str, Wire] = {
    KLING_26: Wire(start="start_image", audio="generate_audio"),
    VEO_31_FAST: Wire(start="image", end="last_frame", resolution=True, audio="generate_audio"),
    SEEDANCE_1_PRO: Wire(start="image", end="last_frame_image", resolution=True),
    # The price covers 81 frames at 16 fps; more frames or another rate would cost more, so both are sent.
    WAN_22_T2V: Wire(resolution=True, duration=False, fixed={"num_frames": 81, "frames_per_second": 16}),
    WAN_22_I2V: Wire(
        start="image",
        end="last_image",
        ratio=False,
        resolution=True,
        duration=False,
        fixed={"num_frames": 81, "frames_per_second": 16, "interpolate_output": False},
    ),
}
MAX_DATA_URI = 1024 * 1024  # "only recommended if the file is less than 1MB" (docs: predictions/input-files)
MAX_SEED = 2**31 - 1  # the narrowest seed range of these models' schemas
OWNER_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
DESCRIBE_TTL = 3600.0
UNPRICED_ENV = "VIDEOGEN_REPLICATE_UNPRICED"  # comma-separated owner/name ids (or *) approved to run unpriced
# Our request fields -> the names models' Input schemas use for them, most common first.
START_FIELDS = ("start_image", "image", "first_frame_image", "first_frame", "input_image", "image_url")
END_FIELDS = ("end_image", "last_frame", "last_frame_image", "last_image", "tail_image")


# -- the declaration: Replicate's answers as typed wire models, and what its statuses, failures and errors
# mean in our terms.


class Prediction(TaskAnswer, Accepted):
    """A prediction (GET /v1/predictions/{id}, a submit's answer, a webhook's body). Extra fields ignored; a
    field of the wrong type reads as absent."""

    id: Annotated[str | None, Lenient] = None
    status: Annotated[str | None, Lenient] = None
    output: Any = None
    logs: Annotated[str | None, Lenient] = None
    error: Any = None
    data_removed: Annotated[bool | None, Lenient] = None

    def job_state(self) -> str | None:
        return self.status.lower() if self.status is not None else None

    def job_video(self) -> str | None:
        return video_url(self.output)

    def job_progress(self) -> float | None:
        return progress(self.logs)[0]

    def job_failure(self) -> tuple[str, str]:
        return "", _text(self.error).rstrip(".")

    def readable(self) -> bool:
        return self.status is not None


class Problem(ErrorAnswer):
    """An RFC 7807 problem details body {type, title, status, detail, instance}; `where` is the request's path."""

    detail: Any = None
    title: Any = None
    _where: str = PrivateAttr("")

    @classmethod
    def of(cls, response: httpx.Response) -> Problem:
        found = super().of(response)
        found._where = _path(response)
        return found

    def fields(self, status: int | None) -> dict[str, Any]:
        detail = (_text(self.detail) or _text(self.title) or f"HTTP {status}").rstrip(".")
        if "/v1/predictions/" in self._where:
            missing = f"prediction ({detail}); it was made with another account's token or removed"
        else:
            missing = f"model ({detail}); the model may have been renamed or removed"
        return {"detail": detail, "missing": missing}


class Catalogue(base.Wire):
    """Replicate's catalogue answers, read as sent: a name or a description must be a string, not a number."""

    model_config = ConfigDict(coerce_numbers_to_str=False)


class Components(Catalogue):
    schemas: Maybe[dict[str, Any]] = None  # Input and Output, JSON Schema as published


class OpenAPI(Catalogue):
    components: Maybe[Components] = None


class Version(Catalogue):
    openapi_schema: Maybe[OpenAPI] = None


class Model(Catalogue):
    """GET /v1/models/{owner}/{name}, and a search hit's model (its latest_version null there)."""

    owner: Maybe[str] = None
    name: Maybe[str] = None
    description: Maybe[str] = None
    latest_version: Maybe[Version] = None

    def schemas(self) -> dict[str, Any] | None:
        """latest_version.openapi_schema.components.schemas, or None when the answer has none."""
        openapi = self.latest_version.openapi_schema if self.latest_version else None
        return openapi.components.schemas if openapi and openapi.components else None


class SearchMetadata(Catalogue):
    tags: Maybe[list[Maybe[str]]] = None
    generated_description: Maybe[str] = None


class SearchHit(Catalogue):
    model: Maybe[Model] = None
    metadata: Maybe[SearchMetadata] = None

    def says_video(self) -> bool:
        """A Cog schema's output says "a file URL", not which kind: the search's tags and descriptions tell a video
        model from an image or audio one."""
        meta = self.metadata or SearchMetadata()
        words = [*(meta.tags or []), meta.generated_description, self.model.description if self.model else None]
        return any(word is not None and "video" in word.lower() for word in words)


class SearchAnswer(Catalogue):
    """GET /v1/search (replicate-python-beta SearchResponse): {query, models: [{model, metadata}], ...}."""

    models: Maybe[list[Maybe[SearchHit]]] = None


def video_url(output: Any) -> str | None:
    """The first URL in `output`: a URL, or a list of URLs (a model's output schema says which)."""
    if isinstance(output, str):
        return output if output.startswith(("http://", "https://")) else None
    if isinstance(output, list):
        return next((url for item in output if (url := video_url(item))), None)
    return None


def progress(logs: str | None) -> tuple[float | None, str]:
    """(fraction, latest line) from a prediction's logs, read as the SDK's Prediction.progress reads them."""
    lines = [line.strip() for line in (logs or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if match := _PROGRESS.match(line):
            return min(1.0, int(match.group(1)) / 100), line[:200]
    return None, lines[-1][:200] if lines else ""


STATUS = {
    "starting": State("queued", "starting at Replicate (a cold boot can take a few minutes)"),
    "processing": State("running", "running at Replicate{latest}"),
    # Replicate deletes outputs an hour after the prediction ends: the engine downloads at once.
    "succeeded": State("succeeded", "finished at Replicate"),
    "canceled": State("cancelled", "cancelled at Replicate"),
    "failed": State("failed"),
    "aborted": State(
        "failed",
        error=Rule(
            ErrorCode.PROVIDER_FAILED,
            "Replicate aborted the prediction before it started (a deadline passed); submitting again may work.",
            retryable=True,
        ),
    ),
}
FAILURES = (
    Rule(
        ErrorCode.CONTENT_POLICY,
        "Replicate could not make the video: {reason}. Change the prompt or images and submit again.",
        text=_CONTENT.pattern,
        retryable=False,
    ),
)
OUTPUT_REMOVED = Rule(
    ErrorCode.DOWNLOAD_FAILED,
    "Replicate deleted this prediction's output (outputs are kept an hour after a prediction ends); the video was "
    "not downloaded in time. Submit it again.",
    retryable=False,
)
ERRORS = (
    Rule(
        ErrorCode.AUTH,
        "Replicate rejected the API token ({detail}). Check REPLICATE_API_TOKEN: a token from " + TOKENS + " "
        "(r8_...), with no spaces.",
        status=401,
    ),
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        "Replicate says payment is required ({detail}). Add credit at " + BILLING + ", wait a few minutes, then "
        "submit again.",
        status=402,
    ),
    Rule(
        ErrorCode.AUTH,
        "Replicate refused access ({detail}); check that REPLICATE_API_TOKEN may run this model.",
        status=403,
    ),
    Rule(ErrorCode.NOT_FOUND, "Replicate has no such {missing}.", status=404),
    Rule(
        ErrorCode.INVALID_INPUT,
        "Replicate rejected the input (HTTP 422): {detail}. Fix the fields named and submit again.",
        status=422,
    ),
    Rule(ErrorCode.RATE_LIMITED, "Replicate is throttling this token ({detail}). Wait and try again.", status=429),
    Rule(
        ErrorCode.TRANSIENT,
        "Replicate had a temporary problem (HTTP {status}: {detail}); retry in a moment.",
        status=range(500, 1000),
    ),
    Rule(ErrorCode.INVALID_INPUT, "Replicate rejected the request (HTTP {status}): {detail}. Fix it and submit again."),
)


class ReplicateProvider(TaskProvider[Prediction, Prediction]):
    name = "replicate"
    title = "Replicate"
    env_vars = ("REPLICATE_API_TOKEN",)
    base_url_default = "https://api.replicate.com"
    default_model = KLING_26
    models = MODELS
    supports_cancel = True
    supports_callbacks = True  # `webhook` + `webhook_events_filter`: the prediction is POSTed to it
    describe_ttl: float = DESCRIBE_TTL  # seconds a model read from its published schema is trusted

    status_path = "/v1/predictions/{ref}"
    cancel_path = "/v1/predictions/{ref}/cancel"  # cancelling twice is harmless: a lost answer is retried
    cancel_method = "POST"
    id_field, where_to_check = "prediction id", "replicate.com/predictions"
    unreadable = "{title} answered a status check with no prediction; retrying"
    accepted_model = Prediction
    status_model = Prediction
    error_model = Problem
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "{title} reports {state}; still watching")  # as the SDK's wait loop: no end
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "Replicate could not make the video: {reason}. Submitting again may work; if it fails the same way, check "
        "the inputs.",
        retryable=True,
    )
    NO_VIDEO = Rule(ErrorCode.PROVIDER_FAILED, "Replicate finished with no video URL", retryable=False)

    def __init__(self, env: Mapping[str, str] | None = None, allowed_dirs: Any = (), tuning: Tuning | None = None):
        super().__init__(env, allowed_dirs, tuning)
        # Models found by `describe`: owner/name -> (spec, wire, Input schema); None: no such usable model.
        self._described: dict[str, tuple[ModelSpec, Wire, dict[str, Any]] | None] = {}
        self._fetched: dict[str, float] = {}  # owner/name -> when its schema was read (time.monotonic)
        self._reading: dict[str, anyio.Lock] = {}

    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        # Video predictions take 1-5 minutes and a read is cheap: every 2 s at first, easing to 5 s.
        return min(5.0, 2.0 + elapsed / 30)

    # -- requests ------------------------------------------------------------------------------
    def check(self, request: VideoRequest) -> None:
        if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
            raise InvalidRequest(f"seed must be from 0 to {MAX_SEED} for Replicate models, not {request.seed}")
        if (described := self._described.get(request.model)) is not None and request.model not in WIRES:
            # The body with stand-in images, against the published schema: refused before a job exists.
            data = self._input(request, described[1], lambda image: "https://images.invalid/placeholder.png")
            if problems := schema_problems(described[2], data):
                raise InvalidRequest(f"{request.model} would refuse this input: {'; '.join(problems)}")

    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON body of POST /v1/models/{owner}/{name}/predictions for a validated request."""
        self.check(request)
        described = self._described.get(request.model)
        wire = WIRES.get(request.model) or (described[1] if described else None)
        if wire is None:
            raise InvalidRequest(f"{request.model} is not a Replicate model this server has read; see list_models")
        data = self._input(request, wire, self.image)
        if described is not None and (problems := schema_problems(described[2], data)):
            raise InvalidRequest(f"{request.model} would refuse this input: {'; '.join(problems)}")
        return {"input": data}

    def _input(self, request: VideoRequest, wire: Wire, image: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"prompt": request.prompt}
        if request.images:
            data[wire.start] = image(request.images[0])
            if request.end_image:
                data[wire.end] = image(request.end_image)
        if wire.duration:
            data["duration"] = int(request.duration)
        if wire.ratio and not request.images:
            data["aspect_ratio"] = request.aspect_ratio
        if wire.resolution:
            data["resolution"] = request.resolution
        if wire.audio:
            data[wire.audio] = request.audio
        if request.negative_prompt:
            data["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            data["seed"] = request.seed
        return data | dict(wire.fixed) | request.options

    def image(self, value: str) -> str:
        """An http(s) URL as is (Replicate fetches it); a local file or data URI as a data URI (as the SDK's
        base64 file encoding sends it) under the 1 MB the docs recommend for data URIs, JPEG or PNG (what these
        models take), re-encoded smaller when too large."""
        if images.classify(value) == "url":
            return images.check_url(value)
        data, mime = images.to_bytes(value, self.allowed_dirs)
        if uri := images.data_uri_under(data, mime, MAX_DATA_URI, ("image/jpeg", "image/png")):
            return uri
        raise InvalidRequest("image is too large to send to Replicate even as a 1280 px JPEG; pass an https URL")

    # -- any model by owner/name ---------------------------------------------------------------
    async def describe(self, model_id: str) -> ModelSpec | None:
        """The spec of any Replicate model, from its latest version's OpenAPI Input schema (read once, then
        cached; the spec joins `models` so the synchronous catalog finds it). None: not owner/name, no such
        model, or not one our fields map onto (no text prompt, or output that is not a file URL)."""
        model_id = model_id.strip()
        if model_id in WIRES:
            return self.spec(model_id)
        if not OWNER_NAME.match(model_id):
            return None
        async with self._reading.setdefault(model_id, anyio.Lock()):  # one read per model, however many ask
            return await self._describe(model_id)

    async def _describe(self, model_id: str) -> ModelSpec | None:
        fetched = self._fetched.get(model_id)
        if model_id not in self._described or fetched is None or time.monotonic() - fetched >= self.describe_ttl:
            owner, _, name = model_id.partition("/")
            try:
                response = await self.http.request("GET", f"/v1/models/{quote(owner, safe='')}/{quote(name, safe='')}")
            except ProviderError as error:
                if error.code == ErrorCode.NOT_FOUND:
                    found = None
                elif (stale := self._described.get(model_id)) is not None:
                    return stale[0]  # stale but known: kept until Replicate answers again
                else:  # a fault of ours or of the moment: not remembered
                    raise ProviderError(
                        error.code,
                        f"Could not read the published schema of {model_id} from Replicate "
                        f"({error.message.rstrip('.')}). Nothing was started. Try again in a moment, or choose a "
                        "curated model (list_models provider=replicate).",
                        retryable=error.retryable,
                    ) from None
            else:
                found = from_schema(model_id, json_body(response, {}))
            self._described[model_id] = found
            self._fetched[model_id] = time.monotonic()
            self.models = (*(m for m in self.models if m.id != model_id), *([found[0]] if found else []))
        entry = self._described[model_id]
        return entry[0] if entry else None

    async def search(self, text: str, limit: int = 8) -> list[str]:
        """owner/name of Replicate models matching `text` (GET /v1/search?query=, Replicate's search API),
        best first. Which are video models shows when each is described."""
        try:
            response = await self.http.request("GET", "/v1/search", params={"query": text, "limit": 20})
        except ProviderError as error:
            raise ProviderError(
                error.code,
                f"Replicate's model search failed ({error.message.rstrip('.')}). Try again in a moment, or name "
                "an owner/name as model.",
                retryable=error.retryable,
            ) from None
        answer = SearchAnswer.read(json_body(response, {})) or SearchAnswer()
        ids = [
            f"{hit.model.owner}/{hit.model.name}"
            for hit in answer.models or []
            if hit and hit.model and hit.model.owner is not None and hit.model.name is not None and hit.says_video()
        ]
        return list(dict.fromkeys(ids))[:limit]

    def _unpriced_refusal(self, model: str) -> ProviderError | None:
        approved = {item.strip() for item in self.env.get(UNPRICED_ENV, "").split(",") if item.strip()}
        if model in WIRES or "*" in approved or model in approved:
            return None
        return ProviderError(
            ErrorCode.NEEDS_CONFIRMATION,
            f"Replicate's API publishes no price for {model}, so its cost cannot be quoted before it runs (the price "
            f"is on https://replicate.com/{model}). Nothing was started. Choose a curated model (list_models "
            f"provider=replicate), or the person running this server can approve it by adding it to {UNPRICED_ENV}.",
            retryable=False,
        )

    # -- the job life cycle: the task template's steps, with these differences ----------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        if (refusal := self._unpriced_refusal(request.model)) is not None:
            raise refusal  # before any request: an unpriced model never runs unapproved
        return await super().submit(job_id, request, callback_url)

    def add_callback(self, body: dict[str, Any], callback_url: str, job_id: str) -> None:
        body |= {"webhook": callback_url, "webhook_events_filter": WEBHOOK_EVENTS}

    def submit_path_for(self, request: VideoRequest) -> str:
        owner, _, name = request.model.partition("/")
        return f"/v1/models/{quote(owner, safe='')}/{quote(name, safe='')}/predictions"

    def submission_state(self, accepted: Prediction, request: VideoRequest) -> dict[str, Any]:
        return {"model": request.model}

    def state_message(self, rule: State, task: Prediction, request: VideoRequest | None) -> str:
        latest = progress(task.logs)[1]
        return rule.message.format(
            title=self.title, state=task.job_state() or "no status", latest=f": {latest}" if latest else ""
        )

    def missing_video(self, task: Prediction, submission: Submission | None, request: VideoRequest | None) -> Snapshot:
        if not task.data_removed:
            return super().missing_video(task, submission, request)
        info = self._info(OUTPUT_REMOVED, {})
        return Snapshot(status="failed", error=info, message=info.message)

    def failure_fields(self, task: Prediction, matched: str) -> dict[str, Any]:
        return {"reason": task.job_failure()[1] or "no reason given"}

    # -- HTTP ----------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        # The token as set, even when empty (Replicate then answers 401, read by ERRORS): `describe` and
        # `search` ask before anything is submitted, as they did.
        return {"Authorization": f"Bearer {self.env.get('REPLICATE_API_TOKEN', '').strip()}"}


def snapshot(prediction: Prediction) -> Snapshot:
    """A prediction in our terms, by the tables (as a poll reads it)."""
    return ReplicateProvider({}).snapshot(prediction)


# -- published schemas (any model) ------------------------------------------------------------------


def _resolved(rule: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    """A property with Cog's `allOf: [{$ref: ...}]` (how it publishes enums) or a bare $ref merged in."""
    if not isinstance(rule, dict):
        return {}
    merged = {k: v for k, v in rule.items() if k not in ("allOf", "$ref")}
    refs = [rule] + [part for part in rule.get("allOf") or [] if isinstance(part, dict)]
    for part in refs:
        ref = part.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            target = components.get(ref.rsplit("/", 1)[-1])
            merged = {**(target if isinstance(target, dict) else {}), **merged}
    return merged


def input_schema(model: Any) -> dict[str, Any] | None:
    """latest_version.openapi_schema.components.schemas.Input of GET /v1/models/{owner}/{name}, its properties
    resolved; {"properties", "required", "output"}. None when the answer has none."""
    components = (Model.read(model) or Model()).schemas()
    raw = components.get("Input") if components else None
    if components is None or not isinstance(raw, dict) or not isinstance(raw.get("properties"), dict):
        return None
    properties = {name: _resolved(rule, components) for name, rule in raw["properties"].items()}
    required = [name for name in raw.get("required") or [] if isinstance(name, str)]
    return {"properties": properties, "required": required, "output": components.get("Output") or {}}


def _is_file_output(output: Any) -> bool:
    if not isinstance(output, dict):
        return False
    if output.get("type") == "array":
        return _is_file_output(output.get("items"))
    return output.get("type") == "string" and output.get("format") == "uri"


def _choices(rule: dict[str, Any], kind: type) -> list[Any]:
    return [v for v in rule.get("enum") or [] if isinstance(v, kind) and not isinstance(v, bool)]


def _durations(rule: dict[str, Any]) -> tuple[float, ...]:
    if values := _choices(rule, int):
        return tuple(float(v) for v in values)
    low, high = rule.get("minimum"), rule.get("maximum")
    if rule.get("type") == "integer" and isinstance(low, int) and isinstance(high, int) and 0 < low <= high <= 60:
        return tuple(float(s) for s in range(low, high + 1))
    return ()


def from_schema(model_id: str, model: Any) -> tuple[ModelSpec, Wire, dict[str, Any]] | None:
    """A ModelSpec, Wire and the Input schema for a model Replicate publishes, mapped by field name. Unpriced."""
    schema = input_schema(model)
    if schema is None or not _is_file_output(schema["output"]):
        return None
    props, required = schema["properties"], schema["required"]
    prompt = props.get("prompt", {})
    if prompt.get("type") != "string":
        return None  # not driven by a text prompt: nothing of ours maps onto it
    start = next((f for f in START_FIELDS if props.get(f, {}).get("type") == "string"), "")
    end = next((f for f in END_FIELDS if props.get(f, {}).get("type") == "string"), "") if start else ""
    modes: tuple[Mode, ...] = (IMAGE,) if start in required else (TEXT, IMAGE) if start else (TEXT,)
    durations = _durations(props.get("duration", {}))
    ratios = [r for r in _choices(props.get("aspect_ratio", {}), str) if ":" in r]
    resolutions = _choices(props.get("resolution", {}), str)
    audio = "generate_audio" if props.get("generate_audio", {}).get("type") == "boolean" else ""

    def default(name: str, allowed: Any) -> Any:
        value = props.get(name, {}).get("default")
        return value if value in allowed else allowed[0]

    unknown = [] if durations else ["its length is the model's own (duration not sent)"]
    description = ((Model.read(model) or Model()).description or "").strip().split("\n")[0][:80]
    spec = ModelSpec(
        id=model_id,
        name=f"{model_id} (Replicate, from its schema)",
        description=f"{description or model_id}; not curated, unpriced" + (f"; {unknown[0]}" if unknown else ""),
        modes=modes,
        durations=durations or (5.0,),
        default_duration=float(default("duration", [int(d) for d in durations])) if durations else 5.0,
        aspect_ratios=tuple(ratios) or ("16:9",),
        default_aspect_ratio=default("aspect_ratio", ratios) if ratios else "16:9",
        resolutions=tuple(resolutions) or ("default",),
        default_resolution=default("resolution", resolutions) if resolutions else "default",
        audio=bool(audio),
        max_images=1 if start else 0,
        end_image=bool(end),
        negative_prompt=props.get("negative_prompt", {}).get("type") == "string",
        seed=props.get("seed", {}).get("type") == "integer",
        max_prompt_chars=prompt.get("maxLength") if isinstance(prompt.get("maxLength"), int) else 2500,
        price=PriceRule(note=f"unknown: Replicate's API publishes no price; see https://replicate.com/{model_id}"),
        price_source=_page(model_id),
    )
    wire = Wire(
        start=start,
        end=end,
        ratio=bool(ratios),
        resolution=bool(resolutions),
        audio=audio,
        duration=bool(durations),
    )
    return spec, wire, schema


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def schema_problems(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """What the model's published Input schema says is wrong with `data`: required fields, unknown fields,
    types, enums and ranges (the checks OpenAPI states; rules between fields it cannot state are the model's)."""
    props = schema["properties"]
    problems = [f"{name} is required" for name in schema["required"] if name not in data]
    for name, value in data.items():
        rule = props.get(name)
        if rule is None:
            problems.append(f"{name} is not an input of this model")
            continue
        kind = rule.get("type")
        wanted = _TYPES.get(kind) if isinstance(kind, str) else None
        if wanted is not None and (not isinstance(value, wanted) or (isinstance(value, bool) and kind != "boolean")):
            problems.append(f"{name} must be a {kind}")
        elif "enum" in rule and value not in rule["enum"]:
            problems.append(f"{name} must be one of {', '.join(str(v) for v in rule['enum'])}")
        elif (
            isinstance(rule.get("minimum"), (int, float))
            and isinstance(value, (int, float))
            and value < rule["minimum"]
        ):
            problems.append(f"{name} must be at least {rule['minimum']}")
        elif (
            isinstance(rule.get("maximum"), (int, float))
            and isinstance(value, (int, float))
            and value > rule["maximum"]
        ):
            problems.append(f"{name} must be at most {rule['maximum']}")
    return problems


# -- HTTP errors (problem details: {type, title, status, detail, instance}) ---------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.replace("\n- ", "; ").lstrip("- ").split())
    if isinstance(value, dict):
        return _text(value.get("detail") or value.get("title") or value.get("error"))
    return ""


def error_for(status: int, body: Any, where: str) -> ProviderError:
    """Replicate's HTTP errors in our terms, with what to do next, by the ERRORS table (`where`: the path)."""
    problem = Problem.read(body) or Problem()
    problem._where = where
    error = ReplicateProvider.error_from(problem, status=status)
    assert error is not None  # the table's last row takes any status
    return error


def _path(response: Any) -> str:
    request = getattr(response, "request", None)
    return urlsplit(str(request.url)).path if request is not None else ""
