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
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import anyio
from pydantic import BaseModel, ConfigDict

from providers import images
from providers.base import (
    ErrorCode,
    InvalidRequest,
    Mode,
    ModelSpec,
    PriceRule,
    Provider,
    ProviderError,
    ProviderErrorInfo,
    Snapshot,
    Submission,
    VideoRequest,
    about_another_job,
    json_body,
)
from providers.wire import Lenient

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


class ReplicateProvider(Provider):
    name = "replicate"
    title = "Replicate"
    env_vars = ("REPLICATE_API_TOKEN",)
    base_url_default = "https://api.replicate.com"
    default_model = KLING_26
    models = MODELS
    supports_cancel = True
    supports_callbacks = True  # `webhook` + `webhook_events_filter`: the prediction is POSTed to it
    describe_ttl: float = DESCRIBE_TTL  # seconds a model read from its published schema is trusted

    def __init__(self, env: Mapping[str, str] | None = None, allowed_dirs: Any = ()):
        super().__init__(env, allowed_dirs)
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

    def body(self, request: VideoRequest, callback_url: str | None = None) -> dict[str, Any]:
        """The JSON body of POST /v1/models/{owner}/{name}/predictions for a validated request."""
        self.check(request)
        described = self._described.get(request.model)
        wire = WIRES.get(request.model) or (described[1] if described else None)
        if wire is None:
            raise InvalidRequest(f"{request.model} is not a Replicate model this server has read; see list_models")
        data = self._input(request, wire, self.image)
        if described is not None and (problems := schema_problems(described[2], data)):
            raise InvalidRequest(f"{request.model} would refuse this input: {'; '.join(problems)}")
        body: dict[str, Any] = {"input": data}
        if callback_url:
            body |= {"webhook": callback_url, "webhook_events_filter": WEBHOOK_EVENTS}
        return body

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
        body = json_body(response, {})
        hits = body.get("models") if isinstance(body, dict) else None
        ids = []
        for hit in hits if isinstance(hits, list) else []:
            model = hit.get("model") if isinstance(hit, dict) else None
            if not (
                isinstance(model, dict) and isinstance(model.get("owner"), str) and isinstance(model.get("name"), str)
            ):
                continue
            # A Cog schema's output says "a file URL", not which kind: the search's tags and descriptions tell
            # a video model from an image or audio one.
            metadata = hit.get("metadata") if isinstance(hit.get("metadata"), dict) else {}
            words = [*(metadata.get("tags") or []), metadata.get("generated_description"), model.get("description")]
            if any(isinstance(w, str) and "video" in w.lower() for w in words):
                ids.append(f"{model['owner']}/{model['name']}")
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

    # -- the job life cycle --------------------------------------------------------------------
    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        import anyio.to_thread

        if (refusal := self._unpriced_refusal(request.model)) is not None:
            raise refusal  # before any request: an unpriced model never runs unapproved
        body = await anyio.to_thread.run_sync(self.body, request, callback_url)  # may read images
        owner, _, name = request.model.partition("/")
        path = f"/v1/models/{quote(owner, safe='')}/{quote(name, safe='')}/predictions"
        prediction = _parse(json_body(await self.http.request("POST", path, json=body)))
        if prediction is None or not prediction.id:
            raise ProviderError(
                ErrorCode.SUBMIT_UNCONFIRMED,
                "Replicate answered the submit without a prediction id; the prediction may exist and be charged. "
                "Check replicate.com/predictions before submitting again.",
                retryable=False,
            )
        return Submission(ref=prediction.id, state={"model": request.model})

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        response = await self.http.request("GET", f"/v1/predictions/{quote(submission.ref, safe='')}")
        prediction = _parse(json_body(response))
        if prediction is None or prediction.status is None:
            raise ProviderError(ErrorCode.TRANSIENT, "Replicate answered a status check with no prediction; retrying")
        return snapshot(prediction)

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """A webhook's body is the prediction itself (docs: topics/webhooks), read as a poll would read it."""
        prediction = _parse(payload)
        if prediction is None or prediction.status is None or about_another_job(prediction.id, submission.ref):
            return None
        return snapshot(prediction)

    async def cancel(self, submission: Submission, request: VideoRequest) -> None:
        # Cancelling twice is harmless, so a lost answer may be retried.
        path = f"/v1/predictions/{quote(submission.ref, safe='')}/cancel"
        try:
            await self.http.request("POST", path, idempotent=True)
        except ProviderError as error:
            if error.code != ErrorCode.NOT_FOUND:
                raise
        submission.state["cancelled"] = True

    # -- HTTP ----------------------------------------------------------------------------------
    def http_options(self) -> dict[str, Any]:
        token = self.env.get("REPLICATE_API_TOKEN", "").strip()  # a trailing newline is a common 401
        return {"headers": {"Authorization": f"Bearer {token}"}, "error_mapper": self._error}

    def _error(self, response: Any) -> ProviderError:
        return error_for(response.status_code, json_body(response, {}), _path(response))


# -- Replicate's answers, read tolerantly ------------------------------------------------------------


class Prediction(BaseModel):
    """A prediction (GET /v1/predictions/{id}, a submit's answer, a webhook's body). Extra fields ignored; a
    field of the wrong type reads as absent."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: Annotated[str | None, Lenient] = None
    status: Annotated[str | None, Lenient] = None
    output: Any = None
    logs: Annotated[str | None, Lenient] = None
    error: Any = None
    data_removed: Annotated[bool | None, Lenient] = None


def _parse(body: Any) -> Prediction | None:
    return Prediction.model_validate(body) if isinstance(body, dict) else None


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


def snapshot(prediction: Prediction) -> Snapshot:
    status = (prediction.status or "").lower()
    if status == "starting":
        return Snapshot(status="queued", message="starting at Replicate (a cold boot can take a few minutes)")
    if status == "processing":
        fraction, latest = progress(prediction.logs)
        return Snapshot(
            status="running", progress=fraction, message=f"running at Replicate{': ' + latest if latest else ''}"
        )
    if status == "succeeded":
        url = video_url(prediction.output)
        if url is None and prediction.data_removed:
            message = (
                "Replicate deleted this prediction's output (outputs are kept an hour after a prediction ends); "
                "the video was not downloaded in time. Submit it again."
            )
            info = ProviderErrorInfo(code=ErrorCode.DOWNLOAD_FAILED, message=message, retryable=False)
            return Snapshot(status="failed", error=info, message=message)
        if url is None:
            info = ProviderErrorInfo(code=ErrorCode.PROVIDER_FAILED, message="Replicate finished with no video URL")
            return Snapshot(status="failed", error=info, message=info.message)
        # Replicate deletes outputs an hour after the prediction ends: the engine downloads at once.
        return Snapshot(status="succeeded", progress=1.0, video_url=url, message="finished at Replicate")
    if status == "canceled":
        return Snapshot(status="cancelled", message="cancelled at Replicate")
    if status == "failed":
        return _failed(prediction.error)
    if status == "aborted":
        message = "Replicate aborted the prediction before it started (a deadline passed); submitting again may work."
        info = ProviderErrorInfo(code=ErrorCode.PROVIDER_FAILED, message=message, retryable=True)
        return Snapshot(status="failed", error=info, message=message)
    # Like the SDK's wait loop: a status Replicate adds later is not an end, keep watching.
    return Snapshot(status="running", message=f"Replicate reports {status or 'no status'}; still watching")


def _failed(error: Any) -> Snapshot:
    reason = (_text(error) or "no reason given").rstrip(".")
    if _CONTENT.search(reason):
        code, again = ErrorCode.CONTENT_POLICY, False
        hint = "Change the prompt or images and submit again."
    else:
        code, again = ErrorCode.PROVIDER_FAILED, True
        hint = "Submitting again may work; if it fails the same way, check the inputs."
    message = f"Replicate could not make the video: {reason}. {hint}"
    return Snapshot(
        status="failed", message=message, error=ProviderErrorInfo(code=code, message=message, retryable=again)
    )


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
    try:
        components = model["latest_version"]["openapi_schema"]["components"]["schemas"]
        raw = components["Input"]
    except (KeyError, TypeError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("properties"), dict):
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
    description = (model.get("description") or "").strip().split("\n")[0][:80] if isinstance(model, dict) else ""
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
    """Replicate's HTTP errors in our terms, with what to do next."""
    body = body if isinstance(body, dict) else {}
    detail = (_text(body.get("detail")) or _text(body.get("title")) or f"HTTP {status}").rstrip(".")
    if status == 401:
        code = ErrorCode.AUTH
        message = (
            f"Replicate rejected the API token ({detail}). Check REPLICATE_API_TOKEN: a token from {TOKENS} "
            "(r8_...), with no spaces."
        )
    elif status == 402:
        code = ErrorCode.OUT_OF_CREDIT
        message = (
            f"Replicate says payment is required ({detail}). Add credit at {BILLING}, wait a few minutes, "
            "then submit again."
        )
    elif status == 403:
        code = ErrorCode.AUTH
        message = f"Replicate refused access ({detail}); check that REPLICATE_API_TOKEN may run this model."
    elif status == 404:
        code = ErrorCode.NOT_FOUND
        message = (
            f"Replicate has no such prediction ({detail}); it was made with another account's token or removed."
            if "/v1/predictions/" in where
            else f"Replicate has no such model ({detail}); the model may have been renamed or removed."
        )
    elif status == 422:
        code = ErrorCode.INVALID_INPUT
        message = f"Replicate rejected the input (HTTP 422): {detail}. Fix the fields named and submit again."
    elif status == 429:
        code = ErrorCode.RATE_LIMITED
        message = f"Replicate is throttling this token ({detail}). Wait and try again."
    elif status >= 500:
        code = ErrorCode.TRANSIENT
        message = f"Replicate had a temporary problem (HTTP {status}: {detail}); retry in a moment."
    else:
        code = ErrorCode.INVALID_INPUT
        message = f"Replicate rejected the request (HTTP {status}): {detail}. Fix it and submit again."
    return ProviderError(code, message)


def _path(response: Any) -> str:
    request = getattr(response, "request", None)
    return urlsplit(str(request.url)).path if request is not None else ""
