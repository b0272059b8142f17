"""Kling's official API (api-singapore.klingai.com): text2video and image2video tasks, polled by id.

Auth is a short-lived HS256 JWT signed with the secret key, made here and renewed well before it
expires. Every submit carries our job id as `external_task_id`, so a submit whose reply was lost can
be found again instead of paid for twice. Kling has no cancel endpoint.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers import images
from providers.base import (
    ErrorCode,
    InvalidRequest,
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

if TYPE_CHECKING:
    import httpx

UNIT_USD = 0.14  # one Kling resource-pack unit (reference §3a)
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


CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
CAMERA_HELP = (
    "camera movement: {type: "
    + " | ".join(CAMERA_TYPES)
    + "}; with type simple also config: {one of "
    + ", ".join(CAMERA_AXES)
    + ": -10..10}; not with end_image"
)
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
        options={"camera_control": CAMERA_HELP},
    )
    shape = " Image-to-video takes its aspect ratio from the image."
    return ModelSpec(id=model_id, name=name, description=description + shape, price=price, **{**defaults, **fields})


MODELS = (
    _spec(
        "kling-v2-6",
        "Kling 2.6",
        "Kling's 2.6 model; 720p (std) or 1080p (pro); native sound with audio=true at 1080p only.",
        PriceRule(
            per_second=1.5 * UNIT_USD / 5,
            per_second_audio=3 * UNIT_USD / 5,  # x5/3 at 1080p = 5 units per 5 s, the price of pro with sound
            resolution_factor={"1080p": 5 / 3},
            note=_note("5 s: std 1.5, pro 2.5, pro with sound 5") + "; sound needs 1080p",
        ),
        audio=True,
        typical_seconds=120,
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
        options={"camera_control": CAMERA_HELP, "cfg_scale": CFG_HELP},
        typical_seconds=180,
    ),
)


def _check_camera(camera: Any) -> None:
    """Kling's camera_control: a documented type; for `simple`, a config of axes within -10..10."""
    if not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES:
        raise InvalidRequest(f"camera_control must be an object with type one of {', '.join(CAMERA_TYPES)}")
    config = camera.get("config")
    if camera["type"] != "simple":
        if config is not None:
            raise InvalidRequest(f"camera_control type {camera['type']} takes no config (only simple does)")
        return
    if not isinstance(config, dict) or not config or set(config) - set(CAMERA_AXES):
        raise InvalidRequest(f"camera_control type simple needs config with some of {', '.join(CAMERA_AXES)}")
    for axis, value in config.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not -10 <= value <= 10:
            raise InvalidRequest(f"camera_control config {axis} must be a number from -10 to 10, not {value!r}")


# The request mapping: our resolution -> Kling's mode; our mode -> Kling's endpoint.
KLING_MODE = {"720p": "std", "1080p": "pro"}
ENDPOINT = {"text_to_video": "text2video", "image_to_video": "image2video"}
# What Kling offers only in pro mode (1080p), by model: a ModelSpec cannot say so, so check() does.
PRO_ONLY: dict[str, dict[str, str]] = {
    "kling-v2-6": {"audio": "sound (audio=true)"},
    "kling-v2-5-turbo": {"end_image": "an end frame (end_image)"},
    "kling-v1-6": {"end_image": "an end frame (end_image)"},
}

# Kling's error codes (docs: error codes): what each means in our terms and what a person can do.
KEYS = "KLING_ACCESS_KEY / KLING_SECRET_KEY"
ERRORS: dict[int, tuple[ErrorCode, str]] = {
    1000: (ErrorCode.AUTH, f"authentication failed: the keys were rejected; check {KEYS}"),
    1001: (ErrorCode.AUTH, f"the Authorization header was empty; check {KEYS}"),
    1002: (ErrorCode.AUTH, f"the signed token was rejected; check that {KEYS} are a matching pair"),
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


class TokenExpired(ProviderError):
    """Kling code 1004: the JWT lapsed (or clocks disagree); renew it and try once more."""


def kling_error(code: int, message: str, request_id: str = "", status: int | None = None) -> ProviderError:
    """Our error for one of Kling's {code, message, request_id} answers."""
    kind, advice = ERRORS.get(code, (FAMILIES.get(code // 100, ErrorCode.TRANSIENT), "unexpected error"))
    http = f"HTTP {status}, " if status else ""
    text = f"Kling: {advice} ({http}code {code}: {message or 'no message'}"
    text += f"; request_id {request_id})." if request_id else ")."
    cls = TokenExpired if code == 1004 else ProviderError
    return cls(kind, text)


def map_error(response: httpx.Response) -> ProviderError | None:
    """ProviderHTTP's error_mapper: Kling's body by code; None (status-based default) if it has none."""
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("code"), int) or body["code"] == 0:
        return None
    return kling_error(
        body["code"], str(body.get("message") or ""), str(body.get("request_id") or ""), response.status_code
    )


class KlingProvider(Provider):
    name = "kling"
    title = "Kling"
    env_vars = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    base_url_default = "https://api-singapore.klingai.com"
    default_model = "kling-v2-6"
    can_reconcile = True  # our job id is the task's external_task_id
    models = MODELS
    supports_cancel = False  # Kling has no cancel endpoint
    supports_callbacks = True  # callback_url: the task's data, POSTed at every status change
    resubmit_is_safe = False  # every submit is billed; lost replies are reconciled by external_task_id

    def __init__(self, env: Mapping[str, str] | None = None, allowed_dirs: Sequence[Path] = ()):
        super().__init__(env, allowed_dirs)
        self._token: str | None = None
        self._token_expires = 0.0

    # -- auth ------------------------------------------------------------------------------------
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
        # auth runs per request: every request carries the current token, renewed when due.
        return {"auth": lambda: {"Authorization": f"Bearer {self.token()}"}, "error_mapper": map_error}

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        """One API call; `data` of a code-0 answer. An expired token is renewed and the call sent once
        more (a 401 means Kling did nothing, so even a submit is safe to repeat)."""
        client = self.http
        try:
            response = await client.request(method, path, json=json)
        except TokenExpired:
            self._token = None
            response = await client.request(method, path, json=json)
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] != 0:  # an error in a 200
            error = kling_error(body["code"], str(body.get("message") or ""), str(body.get("request_id") or ""))
            error.message = client.redact(error.message)
            error.args = (error.message,)
            raise error
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            what = (
                f"Kling sent an answer that is not its JSON envelope (HTTP {response.status_code}) to {method} {path}"
            )
            if method == "POST":  # it may still have created the task
                raise ProviderError(ErrorCode.SUBMIT_UNCONFIRMED, what + ".", retryable=False)
            raise ProviderError(ErrorCode.TRANSIENT, what + "; will try again.")
        return body["data"]

    # -- the request mapping ---------------------------------------------------------------------
    def check(self, request: VideoRequest) -> None:
        camera = request.options.get("camera_control")
        if camera is not None:
            _check_camera(camera)
            if request.end_image:
                raise InvalidRequest("Kling takes camera_control or an end frame (end_image), not both")
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

    def body(self, job_id: str, request: VideoRequest) -> dict[str, Any]:
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
            "duration": f"{request.duration:g}",  # a string on the wire: "5" | "10"
            "sound": ("on" if request.audio else "off") if spec.audio else None,
            "image": self._image(request.images[0], "the start image") if request.images else None,
            "image_tail": self._image(request.end_image, "end_image") if request.end_image else None,
            "external_task_id": job_id,
            "camera_control": request.options.get("camera_control"),
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

    async def submit(self, job_id: str, request: VideoRequest, callback_url: str | None = None) -> Submission:
        body = self.body(job_id, request)
        if callback_url:
            body["callback_url"] = callback_url  # Kling POSTs the task's `data` at every status change
        endpoint = ENDPOINT[request.mode]
        data = await self._call("POST", f"/v1/videos/{endpoint}", json=body)
        return Submission(ref=str(data["task_id"]), state={"endpoint": endpoint})

    async def reconcile(self, job_id: str, request: VideoRequest) -> Submission | None:
        """Kling's single-task query takes our external_task_id in place of its task_id."""
        endpoint = ENDPOINT[request.mode]
        try:
            data = await self._call("GET", f"/v1/videos/{endpoint}/{job_id}")
        except ProviderError as error:
            if error.code == ErrorCode.NOT_FOUND:
                return None
            raise
        if (data.get("task_info") or {}).get("external_task_id", job_id) != job_id:
            return None
        return Submission(ref=str(data["task_id"]), state={"endpoint": endpoint})

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        endpoint = submission.state.get("endpoint") or ENDPOINT[request.mode]
        return task_snapshot(await self._call("GET", f"/v1/videos/{endpoint}/{submission.ref}"))

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """Kling's callback carries the same fields as a task query's `data`."""
        if not payload.get("task_status") or about_another_job(payload.get("task_id"), submission.ref):
            return None
        return task_snapshot(payload)


def task_snapshot(data: dict[str, Any]) -> Snapshot:
    """A task's `data` (from a query or a callback) in our terms."""
    status = data.get("task_status")
    detail = str(data.get("task_status_msg") or "")
    if status == "submitted":
        return Snapshot(status="queued", message="waiting in Kling's queue")
    if status == "processing":  # Kling reports no progress figure
        return Snapshot(status="running", message="Kling is generating the video")
    if status == "succeed":
        videos = (data.get("task_result") or {}).get("videos") or []
        url = videos[0].get("url") if videos and isinstance(videos[0], dict) else None
        if url:
            return Snapshot(status="succeeded", message="generated", video_url=url)
        return _failed(ErrorCode.PROVIDER_FAILED, "Kling reported success but sent no video URL", retryable=True)
    if status == "failed":
        if CONTENT_FAILURE.search(detail):
            return _failed(
                ErrorCode.CONTENT_POLICY,
                f"Kling's content check stopped the task: {detail}. Change the prompt or image; "
                "failed tasks are not charged.",
            )
        return _failed(
            ErrorCode.PROVIDER_FAILED,
            f"Kling failed the task: {detail or 'no reason given'}. Failed tasks are not charged; "
            "submitting again may work.",
            retryable=True,
        )
    return Snapshot(status="running", message=f"Kling status {status!r}: {detail}".rstrip(": "))


def _failed(code: ErrorCode, message: str, retryable: bool = False) -> Snapshot:
    return Snapshot(
        status="failed", message=message, error=ProviderErrorInfo(code=code, message=message, retryable=retryable)
    )
