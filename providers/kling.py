"""Kling's official API (api-singapore.klingai.com): text2video and image2video tasks, polled by id.

Auth, either of Kling's two kinds: a single API key sent as is (`Authorization: Bearer <key>`, new
accounts, every model), or an access/secret key pair from which a short-lived HS256 JWT is made here and
renewed well before it expires (Kling accepts the pair for models up to 3.0, so for all of ours). With
both set, the API key is used. Every submit carries our job id as `external_task_id`, so a submit whose
reply was lost can be found again instead of paid for twice. Kling has no cancel endpoint. A finished
task's `final_unit_deduction` (the units Kling charged) becomes the job's charged cost.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio.to_thread
from pydantic import StrictInt

from providers import images
from providers.base import (
    Accepted,
    ErrorAnswer,
    ErrorCode,
    InvalidRequest,
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
    Wire,
    json_body,
)
from providers.wire import Maybe

UNIT_USD = 0.14  # one Kling resource-pack unit, as the price sources give it
# Kling's price page; the unit counts per task were last compared with it (through transcriptions) then.
PRICE_SOURCE = "https://klingai.com/dev/pricing"
PRICE_CHECKED = "2026-05-29"
TOKEN_SECONDS = 1800  # the lifetime Kling's docs use
RENEW_SECONDS = 300  # renew when less than this is left, so no request carries a token about to lapse


def _note(units: str) -> str:
    return (
        f"unverified: Kling API units per task ({units}; 10 s costs double) at ${UNIT_USD}/unit, the reference's "
        "unit price; unit counts from Kling's billing table as resellers mirror it; failed tasks are free"
    )


RATIOS = ("16:9", "9:16", "1:1")
DURATIONS = (5.0, 10.0)
IMAGE_RULE = "JPG or PNG, at most 10 MB, at least 300 px on each side, aspect ratio between 1:2.5 and 2.5:1"


CFG_HELP = "how closely to follow the prompt, 0..1 (Kling's default 0.5)"


def _spec(model_id: str, name: str, description: str, price: PriceRule, **fields: Any) -> ModelSpec:
    defaults: dict[str, Any] = dict(
        modes=("text_to_video", "image_to_video"),
        durations=DURATIONS,
        default_duration=5.0,
        aspect_ratios=RATIOS,
        default_aspect_ratio="16:9",
        resolutions=("720p", "1080p"),
        default_resolution="720p",
        max_images=1,
        negative_prompt=True,
        max_prompt_chars=2500,
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
    )
    shape = " Image-to-video takes its aspect ratio from the image."
    return ModelSpec(id=model_id, name=name, description=description + shape, price=price, **{**defaults, **fields})


MODELS = (
    _spec(
        "kling-v2-6",
        "Kling 2.6",
        "Kling's 2.6 model; 720p (std) or 1080p (pro); native sound with audio=true at 1080p only; an end "
        "frame (end_image) at 1080p, silent.",
        PriceRule(
            per_second=1.5 * UNIT_USD / 5,
            per_second_audio=3 * UNIT_USD / 5,  # x5/3 at 1080p = 5 units per 5 s, the price of pro with sound
            resolution_factor={"1080p": 5 / 3},
            note=_note("5 s: std 1.5, pro 2.5, pro with sound 5") + "; sound needs 1080p",
        ),
        audio=True,
        end_image=True,
        typical_seconds=120,
    ),
    _spec(
        "kling-v3",
        "Kling 3.0",
        "Kling 3.0: any length from 3 to 15 s; 720p (std) or 1080p (pro); native sound with audio=true.",
        PriceRule(
            per_second=0.6 * UNIT_USD,
            per_second_audio=0.9 * UNIT_USD,  # x4/3 at 1080p: pro 0.8 units/s, 1.2 with sound
            resolution_factor={"1080p": 4 / 3},
            note=(
                f"unverified: Kling API units per second (std 0.6, with sound 0.9; pro 0.8, with sound 1.2) at "
                f"${UNIT_USD}/unit; one source gives 0.8 / 1.0 with sound, the higher is quoted; failed tasks are free"
            ),
        ),
        durations=tuple(float(seconds) for seconds in range(3, 16)),
        audio=True,
        typical_seconds=180,
    ),
    _spec(
        "kling-v2-5-turbo",
        "Kling 2.5 Turbo",
        "Fast Kling 2.5; 720p (std) or 1080p (pro); an end frame (end_image) at 1080p only.",
        PriceRule(
            by_duration={"5": 1.5 * UNIT_USD, "10": 3 * UNIT_USD},
            resolution_factor={"1080p": 5 / 3},
            note=_note("5 s: std 1.5, pro 2.5"),
        ),
        end_image=True,
        typical_seconds=90,
    ),
    _spec(
        "kling-v2-1-master",
        "Kling 2.1 Master",
        "Kling's 2.1 flagship: best motion and prompt adherence, 1080p only, slow and expensive.",
        PriceRule(by_duration={"5": 10 * UNIT_USD, "10": 20 * UNIT_USD}, note=_note("5 s: 10")),
        resolutions=("1080p",),
        default_resolution="1080p",
        typical_seconds=300,
    ),
    _spec(
        "kling-v1-6",
        "Kling 1.6",
        "Kling 1.6; 720p (std) or 1080p (pro); an end frame (end_image) at 1080p only; cfg_scale as an option.",
        PriceRule(
            by_duration={"5": 2 * UNIT_USD, "10": 4 * UNIT_USD},
            resolution_factor={"1080p": 1.75},
            note=_note("5 s: std 2, pro 3.5"),
        ),
        end_image=True,
        options={"cfg_scale": CFG_HELP},
        typical_seconds=180,
    ),
)


# The request mapping: our resolution -> Kling's mode; our mode -> Kling's endpoint.
KLING_MODE = {"720p": "std", "1080p": "pro"}
ENDPOINT = {"text_to_video": "text2video", "image_to_video": "image2video"}
# What Kling offers only in pro mode (1080p), by model: a ModelSpec cannot say so, so check() does.
PRO_ONLY: dict[str, dict[str, str]] = {
    "kling-v2-6": {"audio": "sound (audio=true)", "end_image": "an end frame (end_image)"},
    "kling-v2-5-turbo": {"end_image": "an end frame (end_image)"},
    "kling-v1-6": {"end_image": "an end frame (end_image)"},
}

# Models that make a silent video with an end frame (the capability map: kling-v2-6 pro start/end frame).
SILENT_WITH_END_FRAME = {"kling-v2-6"}

# Kling's error codes (docs: error codes): what each means in our terms and what a person can do.
KEYS = "KLING_API_KEY (or KLING_ACCESS_KEY / KLING_SECRET_KEY)"
PAIR = "KLING_ACCESS_KEY / KLING_SECRET_KEY"
ERROR_CODES: dict[int, tuple[ErrorCode, str]] = {
    1000: (ErrorCode.AUTH, f"authentication failed: the key was rejected; check {KEYS}"),
    1001: (ErrorCode.AUTH, f"the Authorization header was empty; check {KEYS}"),
    1002: (ErrorCode.AUTH, f"the key or token was rejected; check KLING_API_KEY, or that {PAIR} are a matching pair"),
    1003: (ErrorCode.AUTH, "the token is not valid yet; this machine's clock is probably behind: sync it"),
    1004: (
        ErrorCode.AUTH,
        "the token was refused as expired although a fresh one was made; sync this machine's clock",
    ),
    1100: (ErrorCode.AUTH, "there is a problem with the account; check it in the Kling developer console"),
    1101: (ErrorCode.OUT_OF_CREDIT, "the account is in arrears; settle the bill in the Kling developer console"),
    1102: (
        ErrorCode.OUT_OF_CREDIT,
        "the resource pack is used up or expired; buy or renew one in the Kling developer console",
    ),
    1103: (ErrorCode.AUTH, "these keys have no permission for this API or model; choose another model or upgrade"),
    1200: (ErrorCode.INVALID_INPUT, "the request parameters were rejected; fix the request as the message says"),
    1201: (ErrorCode.INVALID_INPUT, "a parameter was rejected; fix the request as the message says"),
    1202: (ErrorCode.INVALID_INPUT, "this method is not offered; this adapter may be out of date"),
    1203: (ErrorCode.NOT_FOUND, "no such task or model"),
    1300: (ErrorCode.CONTENT_POLICY, "the platform policy refused the request; change the prompt or image"),
    1301: (ErrorCode.CONTENT_POLICY, "the content safety check refused the prompt or image; change them"),
    1302: (ErrorCode.RATE_LIMITED, "requests are too fast for the rate limit; wait a little and retry"),
    1303: (
        ErrorCode.RATE_LIMITED,
        "the resource pack's concurrency limit is reached; wait for running tasks to finish, then retry",
    ),
    1304: (ErrorCode.AUTH, "the IP allow-list refused this machine; add its address in the Kling developer console"),
    5000: (ErrorCode.TRANSIENT, "internal error; retrying later may work"),
    5001: (ErrorCode.TRANSIENT, "temporarily unavailable (maintenance); retry later"),
    5002: (ErrorCode.TRANSIENT, "timed out (backlog); retry later"),
}
# Codes outside the table fall back by their family.
FAMILIES = {10: ErrorCode.AUTH, 11: ErrorCode.OUT_OF_CREDIT, 12: ErrorCode.INVALID_INPUT, 13: ErrorCode.CONTENT_POLICY}

# Words in a failed task's task_status_msg that mean a content check stopped it.
CONTENT_FAILURE = re.compile(r"risk|safety|secur|sensitive|policy|violat|inappropriate|moderat|prohibit", re.I)


# -- the declaration: Kling's answers as typed wire models, tolerant (a field of the wrong shape reads as
# absent), and what each state, error code and failure means in our terms.


class KlingVideo(Wire):
    url: Maybe[str] = None
    duration: Maybe[str] = None


class KlingResult(Wire):
    videos: Maybe[list[Maybe[KlingVideo]]] = None


class KlingTaskInfo(Wire):
    external_task_id: Maybe[str] = None


class KlingTask(TaskAnswer, Accepted):
    """A task's `data`: the create and query answers, and the callback body."""

    ref_field = "task_id"
    state_field = "task_status"

    task_id: Maybe[str] = None
    task_status: Maybe[str] = None
    task_status_msg: Maybe[str] = None
    task_info: Maybe[KlingTaskInfo] = None
    task_result: Maybe[KlingResult] = None
    final_unit_deduction: Maybe[str] = None  # the units charged, e.g. "2.5"

    @property
    def video_url(self) -> str | None:
        videos = (self.task_result.videos if self.task_result else None) or []
        return videos[0].url if videos and videos[0] else None

    @property
    def charged_usd(self) -> float | None:
        try:
            units = float(self.final_unit_deduction or "")
        except ValueError:
            return None
        return round(units * UNIT_USD, 4) if units >= 0 else None

    def job_charge(self) -> float | None:
        return self.charged_usd

    def job_failure(self) -> tuple[str, str]:
        return "", self.task_status_msg or ""


class KlingEnvelope(ErrorAnswer):
    """{code, message, request_id, data}: every answer, errors included."""

    code: Maybe[StrictInt] = None
    message: Maybe[str] = None
    request_id: Maybe[str] = None
    data: Maybe[dict[str, Any]] = None

    def error_code(self) -> str:
        return str(self.code) if self.code else ""

    def error_text(self) -> str:
        return self.message or ""

    def fields(self, status: int | None) -> dict[str, Any]:
        return {
            "http": f"HTTP {status}, " if status else "",
            "said": self.message or "no message",
            "request": f"; request_id {self.request_id}" if self.request_id else "",
        }


def envelope(body: Any) -> KlingEnvelope | None:
    return KlingEnvelope.read(body)


class TokenExpired(ProviderError):
    """Kling code 1004: the JWT lapsed (or clocks disagree); renew it and try once more."""


STATUS = {
    "submitted": State("queued", "waiting in Kling's queue"),
    "processing": State("running", "Kling is generating the video"),  # Kling reports no progress figure
    "succeed": State("succeeded", "generated"),
    "failed": State("failed"),
}
FAILURES = (
    Rule(
        ErrorCode.CONTENT_POLICY,
        "Kling's content check stopped the task: {reason}. Change the prompt or image; failed tasks are not charged.",
        text=CONTENT_FAILURE.pattern,
    ),
)
# Kling's error codes (docs: error codes), each with what a person can do; codes outside the table by family.
_SAID = " ({http}code {code}: {said}{request})."
ERRORS = (
    *(Rule(kind, f"Kling: {advice}" + _SAID, match=f"^{code}$") for code, (kind, advice) in ERROR_CODES.items()),
    *(Rule(kind, "Kling: unexpected error" + _SAID, match=f"^{family}\\d\\d$") for family, kind in FAMILIES.items()),
    Rule(ErrorCode.TRANSIENT, "Kling: unexpected error" + _SAID, match=r"^-?\d+$"),
)


class KlingProvider(TaskProvider[KlingTask, KlingTask]):
    name = "kling"
    title = "Kling"
    # Either KLING_API_KEY alone or the access/secret pair: configured() and missing_env() say so.
    env_vars = ("KLING_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    base_url_default = "https://api-singapore.klingai.com"
    default_model = "kling-v2-6"
    can_reconcile = True  # our job id is the task's external_task_id
    models = MODELS
    supports_cancel = False  # Kling has no cancel endpoint
    supports_callbacks = True  # callback_url: the task's data, POSTed at every status change
    resubmit_is_safe = False  # every submit is billed; lost replies are reconciled by external_task_id

    id_field = "task_id"
    accepted_model = KlingTask
    status_model = KlingTask
    error_model = KlingEnvelope
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "Kling status {state!r}: {reason}")
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "Kling failed the task: {said}. Failed tasks are not charged; submitting again may work.",
        retryable=True,
    )
    NO_VIDEO = Rule(ErrorCode.PROVIDER_FAILED, "Kling reported success but sent no video URL", retryable=True)

    def __init__(
        self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = (), tuning: Tuning | None = None
    ):
        super().__init__(env, allowed_dirs, tuning)
        self._token: str | None = None
        self._token_expires = 0.0

    # -- auth ------------------------------------------------------------------------------------
    def _api_key(self) -> str:
        return self.env.get("KLING_API_KEY", "").strip()

    def configured(self) -> bool:
        return bool(self._api_key()) or all(self.env.get(var) for var in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"))

    def missing_env(self) -> list[str]:
        """Nothing, or what to set: the other half of a pair begun, else the single API key."""
        if self.configured():
            return []
        pair = [var for var in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY") if not self.env.get(var)]
        return pair if len(pair) == 1 else ["KLING_API_KEY"]

    def authorization(self) -> str:
        """The Authorization header: the API key as is, else the current JWT of the pair."""
        if key := self._api_key():
            return f"Bearer {key}"
        if not self.configured():
            raise ProviderError(
                ErrorCode.NOT_CONFIGURED, f"Kling is not configured: set {' or '.join(self.missing_env())}."
            )
        return f"Bearer {self.token()}"

    def token(self) -> str:
        """The current JWT, made anew when less than RENEW_SECONDS of it are left."""
        now = time.time()
        if self._token is None or self._token_expires - now < RENEW_SECONDS:
            import jwt  # PyJWT, loaded on first use

            expires = int(now) + TOKEN_SECONDS
            claims = {"iss": self.env["KLING_ACCESS_KEY"], "exp": expires, "nbf": int(now) - 5}
            self._token = jwt.encode(
                claims, self.env["KLING_SECRET_KEY"], algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"}
            )
            self._token_expires = float(expires)
        return self._token

    def secrets(self) -> list[str]:
        return [*super().secrets(), *([self._token] if self._token else [])]

    def http_options(self) -> dict[str, Any]:
        # auth runs per request: every request carries the key, or the current token, renewed when due.
        return {"auth": lambda: {"Authorization": self.authorization()}, "error_mapper": self.error_for}

    @classmethod
    def error_from(
        cls, answer: ErrorAnswer, *, status: int | None, method: str = "", ref: str = ""
    ) -> ProviderError | None:
        error = super().error_from(answer, status=status, method=method, ref=ref)
        if error is not None and answer.error_code() == "1004":
            return TokenExpired(error.code, error.message, retryable=error.retryable)
        return error

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        expected: Sequence[int] = (200, 201, 202, 204),
    ) -> tuple[int, Any]:
        """One API call; `data` of a code-0 answer. An expired token is renewed and the call sent once
        more (a 401 means Kling did nothing, so even a submit is safe to repeat)."""
        client = self.http
        try:
            response = await client.request(
                method, path, json=json, headers=headers, idempotent=idempotent, expected=expected
            )
        except TokenExpired:
            self._token = None
            response = await client.request(
                method, path, json=json, headers=headers, idempotent=idempotent, expected=expected
            )
        body = envelope(json_body(response))
        if body is not None and body.code is not None and body.code != 0:  # an error in a 200
            error = self.error_from(body, status=None)
            if error is not None:
                error.message = client.redact(error.message)
                error.args = (error.message,)
                raise error
        if body is None or body.data is None:
            what = (
                f"Kling sent an answer that is not its JSON envelope (HTTP {response.status_code}) to {method} {path}"
            )
            if method == "POST":  # it may still have created the task
                then = "; the task may exist and be charged: it is looked up by our job id (external_task_id) instead."
                raise ProviderError(ErrorCode.SUBMIT_UNCONFIRMED, what + then, retryable=False)
            raise ProviderError(ErrorCode.TRANSIENT, what + "; will try again.")
        return response.status_code, body.data

    # -- the request mapping ---------------------------------------------------------------------
    def check(self, request: VideoRequest) -> None:
        if request.end_image and request.audio and request.model in SILENT_WITH_END_FRAME:
            raise InvalidRequest(
                f"{request.model} makes a silent video when given an end frame; set audio to false or drop end_image"
            )
        cfg = request.options.get("cfg_scale")
        if cfg is not None and (isinstance(cfg, bool) or not isinstance(cfg, int | float) or not 0 <= cfg <= 1):
            raise InvalidRequest(f"cfg_scale must be a number from 0 to 1, not {cfg!r}")
        if request.resolution != "1080p":
            for field, what in PRO_ONLY.get(request.model, {}).items():
                if getattr(request, field):
                    raise InvalidRequest(
                        f"{request.model} offers {what} only at 1080p (Kling's pro mode); set resolution to 1080p "
                        f"or drop {field}"
                    )

    def body(self, job_id: str, request: VideoRequest) -> dict[str, Any]:  # type: ignore[override]
        """The JSON Kling gets for `request`; images are checked against Kling's limits first."""
        spec = self.spec(request.model)
        assert spec is not None, f"unknown Kling model {request.model}"  # the catalog checked it
        text_only = request.mode == "text_to_video"
        body = {
            "model_name": spec.id,
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "mode": KLING_MODE[request.resolution],
            "aspect_ratio": request.aspect_ratio if text_only else None,  # image2video takes the image's
            "duration": f"{request.duration:g}",  # a string on the wire: "5" | "10" (kling-v3: "3".."15")
            "sound": ("on" if request.audio else "off") if spec.audio else None,
            "image": self._image(request.images[0], "the start image") if request.images else None,
            "image_tail": self._image(request.end_image, "end_image") if request.end_image else None,
            "external_task_id": job_id,
            "cfg_scale": request.options.get("cfg_scale"),
        }
        return {key: value for key, value in body.items() if value is not None}

    def _image(self, value: str, what: str) -> str:
        """A URL as is (Kling fetches it); a file as raw base64 (no data: prefix), within Kling's limits."""
        if images.classify(value) == "url":
            return images.check_url(value)
        data, mime = images.to_bytes(value, self.allowed_dirs)  # capped at 10 MB, Kling's limit too
        if mime not in ("image/jpeg", "image/png"):
            raise InvalidRequest(f"{what} is {mime}; Kling takes {IMAGE_RULE}. Convert it to PNG or JPG.")
        width, height = images.image_size(data)
        if min(width, height) < 300:
            raise InvalidRequest(f"{what} is {width}x{height} px; Kling takes {IMAGE_RULE}. Use a larger image.")
        if not 1 / 2.5 <= width / height <= 2.5:
            raise InvalidRequest(f"{what} is {width}x{height} px; Kling takes {IMAGE_RULE}. Crop it.")
        return base64.b64encode(data).decode("ascii")

    # -- the job life cycle ----------------------------------------------------------------------
    def poll_interval(self, spec: ModelSpec, elapsed: float) -> float:
        # Content checks fail within seconds, so look often at first; then 5-10 s for 1-5 minute jobs.
        if elapsed < 30:
            return 3.0
        return min(10.0, max(5.0, spec.typical_seconds / 20))

    async def request_body(self, job_id: str, request: VideoRequest) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.body, job_id, request)  # may read and check images

    def submit_path_for(self, request: VideoRequest) -> str:
        return f"/v1/videos/{ENDPOINT[request.mode]}"

    def submission_state(self, accepted: KlingTask, request: VideoRequest) -> dict[str, Any]:
        return {"endpoint": ENDPOINT[request.mode]}

    def status_url(self, submission: Submission, request: VideoRequest) -> str:
        endpoint = submission.state.get("endpoint") or ENDPOINT[request.mode]
        return f"/v1/videos/{endpoint}/{submission.ref}"

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        """Kling's single-task query takes our external_task_id in place of its task_id."""
        endpoint = ENDPOINT[request.mode]
        try:
            _, data = await self.call("GET", f"/v1/videos/{endpoint}/{job_id}")
            task = KlingTask.model_validate(data)
        except ProviderError as error:
            if error.code == ErrorCode.NOT_FOUND:
                return None
            raise
        external = task.task_info.external_task_id if task.task_info else None
        if (external or job_id) != job_id or not task.task_id:
            return None
        return Submission(ref=task.task_id, state={"endpoint": endpoint})

    def state_message(self, rule: State, task: KlingTask, request: VideoRequest | None) -> str:
        return super().state_message(rule, task, request).rstrip(": ")

    def charged_usd(self, task: KlingTask, submission: Submission | None, request: VideoRequest | None) -> float | None:
        """The units Kling deducted, for a video delivered (failed tasks are free)."""
        return task.charged_usd if task.task_status == "succeed" and task.video_url else None

    def failure_fields(self, task: KlingTask, matched: str) -> dict[str, Any]:
        return {"said": task.task_status_msg or "no reason given"}


map_error = KlingProvider.error_for


def task_snapshot(data: dict[str, Any]) -> Snapshot:
    """A task's `data` (from a query or a callback) in our terms."""
    return KlingProvider({}).snapshot(KlingTask.model_validate(data))
