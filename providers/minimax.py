"""MiniMax's video generation API (api.minimax.io): Hailuo 2.3, 2.3 Fast, 02 and the 01 series.

Wire contract from the official docs (platform.minimax.io/docs: guides/video-generation, api-reference
video-generation-t2v / -i2v / -fl2v / -query / -download, errorcode) and MiniMax's own client, MiniMax-MCP
(minimax_mcp/client.py, server.py generate_video / query_video_generation); there is no official Python SDK:
  POST /v1/video_generation {model, prompt, first_frame_image, last_frame_image, duration, resolution,
       prompt_optimizer, fast_pretreatment, aigc_watermark, callback_url}    -> {task_id, base_resp}
  GET  /v1/query/video_generation?task_id=  -> {task_id, status: Preparing | Queueing | Processing | Success |
       Fail, file_id, video_width, video_height, base_resp}
  GET  /v1/files/retrieve?file_id=          -> {file: {file_id, bytes, filename, purpose, download_url}, base_resp}
Every request carries `Authorization: Bearer <MINIMAX_API_KEY>`. Errors come as HTTP 200 with a non-zero
`base_resp.status_code` (1002 rate limit, 1004 not authorized, 1008 insufficient balance, 1026 / 1027 sensitive
input / output, 2013 invalid parameters, 2049 invalid API key, ...), which MiniMax-MCP checks on every answer;
so does this adapter (http.py only sees the status line).

Declared on the task template (providers.base.TaskProvider): the answers are wire models, the statuses, base_resp
codes and failures are STATUS / ERRORS / FAILURES tables, and submit (its one "no task_id" error) and callbacks
reading come from the template. Overridden, because the API differs there: `call` (errors inside a 200 answer,
except a failed task's code, which FAILURES reads), `status_url` (the task id is a query parameter), `poll` (a
success names a file_id; its download_url is one more request, files/retrieve) and `parse_callback` (the URL
check's challenge, lower-case statuses, a success without its URL left to a poll).

Choices:
- Images: a public http(s) URL as is; a local file or data URI as a base64 data URL (the docs take both: JPG,
  JPEG, PNG or WebP under 20 MB, short side over 300 px, aspect ratio between 2:5 and 5:2). A local image that
  breaks those limits is refused before any call; a URL's image is judged by MiniMax.
- The rules a ModelSpec cannot say (the docs' tables): 1080P is 6 s only; Hailuo-02's 512P is image-to-video
  only; a last frame (Hailuo-02 only) needs a first frame and 768P or 1080P.
- Cancel: the API has none, so a job cannot be cancelled here: the engine says so.
- Callbacks: MiniMax first POSTs {"challenge": ...} to `callback_url` and sends status updates only if the
  same value comes back within 3 s; our webhook route (server/webhooks.py) echoes it to a holder of the job's
  token. `parse_callback` reads the updates (the query's body; the docs list processing / success / failed).
- No lookup by an id of ours exists, so a lost submit cannot be reconciled.
- Prices: MiniMax's pay-as-you-go list, per video by model, resolution and length (PRICES). The stored copy of
  the official page read here did not show its video table: the figures are those quoted from it by others (a
  gateway citing the page for Hailuo-02 768P 6 s $0.28; Runware's and WaveSpeed's per-video lists for 2.3 and
  2.3 Fast, which agree), so each model's description says so. Hailuo-02's 512P 10 s is quoted high (one factor
  for both lengths). The API reports no charge, so none is recorded.
- A 1001 (request timeout) in reply to a submit may come after the task was made: SUBMIT_UNCONFIRMED, never a
  resend. The other "retry later" codes (1000, 1024, 1033) come without a task: TRANSIENT.
- The China platform (platform.minimaxi.com, host api.minimaxi.com) is a separate account and key: point
  VIDEOGEN_MINIMAX_BASE_URL at https://api.minimaxi.com to use one (its prices are in CNY, not quoted here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import PrivateAttr

from providers import images
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
    VideoRequest,
    Wire,
    about_another_job,
    json_body,
)
from providers.options import VideoOptions
from providers.wire import Maybe

if TYPE_CHECKING:
    import httpx

TITLE = "MiniMax"
CREATE, QUERY, RETRIEVE = "/v1/video_generation", "/v1/query/video_generation", "/v1/files/retrieve"
KEYS_PAGE = "platform.minimax.io (Account Management > API Keys)"
BALANCE_PAGE = "platform.minimax.io/user-center/payment/balance"
PRICE_SOURCE = "https://platform.minimax.io/docs/guides/pricing-paygo"
PRICE_CHECKED = "2026-12-03"
PRICE_NOTE = "MiniMax's pay-as-you-go price per video"
THIRD_PARTY = "List price per video as quoted by third parties from MiniMax's pricing page."
MAX_PROMPT = 2000
HAILUO = ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3-Fast", "MiniMax-Hailuo-02")  # fast_pretreatment: these only
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
MAX_IMAGE_CHARS = 4 * (20 * 1024 * 1024) // 3  # the docs' 20 MB, base64-encoded
# USD per video: model -> resolution -> seconds -> price (MiniMax's pay-as-you-go list, see the module doc).
PRICES: dict[str, dict[str, dict[int, float]]] = {
    "MiniMax-Hailuo-2.3": {"768P": {6: 0.28, 10: 0.56}, "1080P": {6: 0.49}},
    "MiniMax-Hailuo-2.3-Fast": {"768P": {6: 0.19, 10: 0.32}, "1080P": {6: 0.33}},
    "MiniMax-Hailuo-02": {"512P": {6: 0.10, 10: 0.15}, "768P": {6: 0.28, 10: 0.56}, "1080P": {6: 0.49}},
    **{
        model: {"720P": {6: 0.43}}
        for model in ("T2V-01-Director", "T2V-01", "I2V-01-Director", "I2V-01", "I2V-01-live")
    },
}
# MiniMax's own options, offered once the tools' typed options (providers/options.py) take them: the catalog
# refuses an option the tool schema does not declare.
OPTIONS = {
    "prompt_optimizer": "true | false: MiniMax rewrites the prompt first (its default: true)",
    "fast_pretreatment": "true | false: a faster prompt rewrite (Hailuo 2.3, 2.3 Fast and 02)",
}
OPTIONS = {name: what for name, what in OPTIONS.items() if name in VideoOptions.model_fields}


def price_rule(model: str, default: str) -> PriceRule:
    """By length at the default resolution; other resolutions as factors, the highest where lengths differ."""
    table = PRICES[model]
    base = table[default]
    factors = {
        resolution: max(usd / base[seconds] for seconds, usd in row.items())
        for resolution, row in table.items()
        if resolution != default
    }
    listed = "; ".join(f"{r}: " + ", ".join(f"{s} s ${usd:.2f}" for s, usd in row.items()) for r, row in table.items())
    high = [
        f"{r} {s} s at ${base[s] * factors[r]:.2f}"
        for r, row in table.items()
        if r != default
        for s, usd in row.items()
        if round(base[s] * factors[r], 4) > usd
    ]
    note = f"{PRICE_NOTE} ({listed})" + (
        f"; quoted high: {', '.join(high)} (one factor per resolution)" if high else ""
    )
    return PriceRule(by_duration={f"{s}": usd for s, usd in base.items()}, resolution_factor=factors, note=note)


def _spec(
    model: str, name: str, description: str, modes: tuple[Mode, ...], default: str, typical: float, **fields: Any
) -> ModelSpec:
    table = PRICES[model]
    return ModelSpec(
        id=model,
        name=name,
        description=f"{description} {THIRD_PARTY}",
        modes=modes,
        durations=tuple(float(s) for s in sorted({s for row in table.values() for s in row})),
        default_duration=6.0,
        aspect_ratios=("16:9",),  # from text 16:9; from a start image the video takes the image's shape
        default_aspect_ratio="16:9",
        resolutions=tuple(table),
        default_resolution=default,
        max_images=1 if "image_to_video" in modes else 0,
        max_prompt_chars=MAX_PROMPT,
        options={k: v for k, v in OPTIONS.items() if k == "prompt_optimizer" or model in HAILUO},
        price=price_rule(model, default),
        price_source=PRICE_SOURCE,
        price_checked=PRICE_CHECKED,
        typical_seconds=typical,
        **fields,
    )


BOTH: tuple[Mode, ...] = ("text_to_video", "image_to_video")
MODELS: tuple[ModelSpec, ...] = (
    _spec(
        "MiniMax-Hailuo-2.3",
        "MiniMax Hailuo 2.3",
        "MiniMax's newest Hailuo: text or a start image, 6 or 10 s at 768P, 6 s at 1080P; [Pan left]-style camera "
        "commands in the prompt.",
        BOTH,
        "768P",
        240.0,
    ),
    _spec(
        "MiniMax-Hailuo-2.3-Fast",
        "MiniMax Hailuo 2.3 Fast",
        "Faster, cheaper Hailuo 2.3, from a start image only: 6 or 10 s at 768P, 6 s at 1080P.",
        ("image_to_video",),
        "768P",
        120.0,
    ),
    _spec(
        "MiniMax-Hailuo-02",
        "MiniMax Hailuo 02",
        "Hailuo 02: text or a start image, and the only one with an end frame; 6 or 10 s at 768P, 6 s at 1080P, "
        "512P from a start image only.",
        BOTH,
        "768P",
        300.0,
        end_image=True,
    ),
    _spec("T2V-01-Director", "MiniMax T2V-01 Director", "01 series, text only, camera commands: 6 s at 720P.",
          ("text_to_video",), "720P", 180.0),
    _spec("T2V-01", "MiniMax T2V-01", "01 series, text only: 6 s at 720P.", ("text_to_video",), "720P", 180.0),
    _spec("I2V-01-Director", "MiniMax I2V-01 Director", "01 series, from a start image, camera commands: 6 s at "
          "720P.", ("image_to_video",), "720P", 180.0),
    _spec("I2V-01", "MiniMax I2V-01", "01 series, from a start image: 6 s at 720P.", ("image_to_video",), "720P",
          180.0),
    _spec("I2V-01-live", "MiniMax I2V-01 Live", "01 series, from a start image, for illustrations and anime: 6 s "
          "at 720P.", ("image_to_video",), "720P", 180.0),
)  # fmt: skip


# -- the declaration: MiniMax's answers as typed wire models (a field of the wrong shape reads as absent), and
# what each status, base_resp code and failure means in our terms.


class BaseResp(Wire):
    status_code: Maybe[int] = None
    status_msg: Maybe[str] = None


class Answer(ErrorAnswer):
    """Any answer's `base_resp`: MiniMax's errors come in it (as HTTP 200), and its code and words are what the
    ERRORS rows match. `what` (task or file) and `trace` (the Trace-Id header) come from the response."""

    base_resp: Maybe[BaseResp] = None
    _what: str = PrivateAttr("task")
    _trace: str = PrivateAttr("")

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        found = super().of(response)
        found._trace = response.headers.get("Trace-Id", "")
        try:
            found._what = "file" if response.request.url.path.endswith(RETRIEVE) else "task"
        except RuntimeError:  # a response made without its request
            pass
        return found

    @property
    def code(self) -> int:
        return (self.base_resp.status_code or 0) if self.base_resp else 0

    @property
    def said(self) -> str:
        return ((self.base_resp.status_msg if self.base_resp else None) or "").strip()

    def error_code(self) -> str:
        return str(self.code) if self.code else ""

    def error_text(self) -> str:
        return self.said

    def fields(self, status: int | None) -> dict[str, Any]:
        return {"shown": shown(self.code, self.said, self._trace), "what": self._what}


class Created(Accepted):
    ref_field = "task_id"
    task_id: Maybe[str] = None


class Task(TaskAnswer):
    """The query's answer, and the body of a status callback. Its `video` is the file_id: the poll turns it into
    the file's download_url with one more request (files/retrieve)."""

    ref_field = "task_id"
    video_field = "file_id"

    task_id: Maybe[str] = None
    status: Maybe[str] = None
    file_id: Maybe[str] = None
    error_message: Maybe[str] = None  # the docs' guide reads it on Fail; the reference does not list it
    base_resp: Maybe[BaseResp] = None

    @property
    def code(self) -> int:
        return (self.base_resp.status_code or 0) if self.base_resp else 0

    def job_failure(self) -> tuple[str, str]:
        said = ((self.base_resp.status_msg if self.base_resp and self.code else None) or "").strip()
        return (str(self.code) if self.code else ""), said or (self.error_message or "").strip()


class File(Wire):
    file_id: Maybe[str] = None
    download_url: Maybe[str] = None


class Retrieved(Wire):
    file: Maybe[File] = None


def shown(code: int, said: str, trace: str = "") -> str:
    """How a base_resp code is quoted in a message: " (code: words) [Trace-Id ...]"."""
    said = said.rstrip(".")
    if len(said) > 300:
        said = said[:299] + "…"
    text = f" ({code}: {said})" if said else f" ({code})"
    return text + (f" [Trace-Id {trace}]" if trace else "")


# The query's statuses; a callback's are lower case (the docs: processing / success / failed), read by ALIASES.
STATUS = {
    "Preparing": State("queued", "{title} is preparing the task"),
    "Queueing": State("queued", "waiting in {title}'s queue"),
    "Processing": State("running", "{title} is generating the video"),
    "Success": State("succeeded", "generated"),
    "Fail": State("failed"),
}
STATUS_ALIASES = {
    "preparing": "Preparing",
    "queueing": "Queueing",
    "processing": "Processing",
    "success": "Success",
    "fail": "Fail",
    "failed": "Fail",
}

# base_resp codes (docs: api-reference/errorcode), then HTTP errors without one (MiniMax's own come as HTTP 200).
# method: POST is the submit (a timeout may come after the task was made), GET a query or a file retrieve.
TRANSIENT_CODES = {1000: "unknown error", 1001: "request timeout", 1024: "internal error", 1033: "system error"}
LIMIT_CODES = {1002: "rate limit", 1039: "token limit", 1041: "connection limit"}
INPUT_REFUSED = "{title}'s content check refused the input{shown}; change the prompt or the image."
OUTPUT_FLAGGED = "{title}'s content check flagged the generated video{shown}; change the prompt or the image."
ERRORS = (
    Rule(
        ErrorCode.AUTH,
        "{title} rejected the API key{shown}. Check MINIMAX_API_KEY: a pay-as-you-go key from " + KEYS_PAGE + ". "
        "A key of the China platform (platform.minimaxi.com) works only with "
        "VIDEOGEN_MINIMAX_BASE_URL=https://api.minimaxi.com.",
        match="^(1004|2049)$",
    ),
    Rule(
        ErrorCode.AUTH,
        "{title} needs the account behind MINIMAX_API_KEY to finish real-name verification first{shown}; "
        "complete it in the platform's user center, then submit again.",
        match="^2038$",
    ),
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        "{title}: insufficient balance for this video{shown}. Recharge at " + BALANCE_PAGE + ", or choose a "
        "cheaper model (MiniMax-Hailuo-2.3-Fast), 768P or 6 s.",
        match="^1008$",
    ),
    Rule(
        ErrorCode.OUT_OF_CREDIT,
        "{title}: the key's plan quota is used up{shown}; wait for it to reset, or use a pay-as-you-go key.",
        match="^2056$",
    ),
    Rule(
        ErrorCode.RATE_LIMITED,
        "{title} is rate limiting this key{shown}: video generation allows only a few requests a minute per "
        "account. Wait a minute and try again.",
        match=f"^({'|'.join(map(str, LIMIT_CODES))})$",
    ),
    Rule(ErrorCode.CONTENT_POLICY, INPUT_REFUSED, match="^1026$"),
    Rule(ErrorCode.CONTENT_POLICY, OUTPUT_FLAGGED, match="^1027$"),
    Rule(ErrorCode.INVALID_INPUT, "{title} refused invisible characters in the prompt{shown}; remove them.",
         match="^1042$"),
    Rule(
        ErrorCode.NOT_FOUND,
        "{title} does not know this {what}{shown}: it was made with another API key or on the other platform "
        "(api.minimax.io and api.minimaxi.com are separate).",
        match="^2013$",
        method="GET",
    ),
    Rule(ErrorCode.INVALID_INPUT, "{title} refused the parameters{shown}; fix the request.", match="^2013$"),
    Rule(
        ErrorCode.SUBMIT_UNCONFIRMED,
        "{title} timed out on the submit{shown}; the task may exist and be charged: check the usage records at "
        "platform.minimax.io before submitting again.",
        match="^1001$",
        method="POST",
        retryable=False,
    ),
    Rule(ErrorCode.TRANSIENT, "{title} had a server problem{shown}; try again in a minute.",
         match=f"^({'|'.join(map(str, TRANSIENT_CODES))})$"),
    Rule(
        ErrorCode.INVALID_INPUT,
        "{title} refused the request{shown}; see platform.minimax.io/docs/api-reference/errorcode for what to "
        "change.",
        match=".",
        method="POST",
    ),
    Rule(ErrorCode.PROVIDER_FAILED, "{title} answered with error{shown}.", match=".", retryable=False),
    # HTTP errors whose body has no base_resp code
    Rule(
        ErrorCode.AUTH,
        "{title} rejected the request (HTTP {status}). Check MINIMAX_API_KEY: a key from " + KEYS_PAGE + ".",
        status=(401, 403),
    ),
    Rule(ErrorCode.RATE_LIMITED, "{title} is rate limiting this key (HTTP 429); wait and try again.", status=429),
    Rule(ErrorCode.TRANSIENT, "{title} had a server problem (HTTP {status}); try again in a minute.",
         status=range(500, 1000)),
)  # fmt: skip
# A failed task's base_resp code (the content checks), else its words.
FAILURES = (
    Rule(ErrorCode.CONTENT_POLICY, INPUT_REFUSED, match="^1026$", retryable=False),
    Rule(ErrorCode.CONTENT_POLICY, OUTPUT_FLAGGED, match="^1027$", retryable=False),
)


class MiniMaxProvider(TaskProvider[Created, Task]):
    name = "minimax"
    title = TITLE
    env_vars = ("MINIMAX_API_KEY",)
    base_url_default = "https://api.minimax.io"
    default_model = "MiniMax-Hailuo-2.3"  # MiniMax-MCP's default video model
    models = MODELS
    supports_cancel = False  # the API has no cancel (no cancel_path)
    supports_callbacks = True  # our webhook route echoes the URL check's challenge (server/webhooks.py)

    submit_path = CREATE
    id_field, where_to_check = "task_id", "the usage records at platform.minimax.io"
    unreadable = "{title} sent an unreadable task status; will ask again shortly."
    accepted_model = Created
    status_model = Task
    error_model = Answer
    STATUS = STATUS
    UNKNOWN_STATE = State("running", "{title} reports status {state!r}; still watching")
    ERRORS = ERRORS
    FAILURES = FAILURES
    FAILED_SOMEHOW = Rule(
        ErrorCode.PROVIDER_FAILED,
        "{title} could not generate the video{failed}; submitting it again may work.",
        retryable=True,
    )
    NO_VIDEO = Rule(ErrorCode.TRANSIENT, "{title} reports the task done but gave no file_id yet.")

    def check(self, request: VideoRequest) -> None:
        if request.resolution == "1080P" and request.duration != 6:
            raise InvalidRequest("MiniMax makes 1080P videos of 6 s only; choose 6 s, or 768P for a 10 s video.")
        if request.resolution == "512P" and not request.images:
            raise InvalidRequest("MiniMax makes 512P videos only from a start image; pass one in images, or use 768P.")
        if request.end_image and not request.images:
            raise InvalidRequest("MiniMax takes a last frame only with a first frame: pass the first in images.")
        if request.end_image and request.resolution == "512P":
            raise InvalidRequest("MiniMax takes a last frame at 768P or 1080P only, not 512P.")
        for option in ("prompt_optimizer", "fast_pretreatment"):
            value = request.options.get(option)
            if value is not None and not isinstance(value, bool):
                raise InvalidRequest(f"{option} must be true or false, not {value!r}")

    # -- the steps MiniMax's API differs in ----------------------------------------------------------
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
        """One request; an error inside a 200 (a non-zero base_resp code) is raised by the ERRORS table, except
        in a failed task's query answer, where the code is the failure's (read by FAILURES)."""
        response = await self.http.request(
            method, path, json=json, headers=headers, idempotent=idempotent, expected=expected
        )
        body = json_body(response)
        answer = Answer.of(response)
        failed_task = path.startswith(QUERY) and isinstance(body, dict) and body.get("status") == "Fail"
        if answer.code and not failed_task:
            error = self.error_from(answer, status=None, method=method)
            if error is not None:
                error.message = self.http.redact(error.message)
                error.args = (error.message,)
                raise error
        return response.status_code, body

    def status_url(self, submission: Submission, request: VideoRequest) -> str:
        return f"{QUERY}?task_id={quote(submission.ref, safe='')}"

    async def poll(self, submission: Submission, request: VideoRequest) -> Snapshot:
        """The template's poll; a success names a file_id, whose download_url is one more request."""
        snap = await super().poll(submission, request)
        if snap.status == "succeeded" and snap.video_url:
            snap.video_url = await self.download_url(snap.video_url)
        return snap

    async def download_url(self, file_id: str) -> str:
        """The finished video's download_url (valid for a limited time: the engine fetches it at once)."""
        _, body = await self.call("GET", f"{RETRIEVE}?file_id={quote(file_id, safe='')}")
        retrieved = Retrieved.read(body)
        url = retrieved.file.download_url if retrieved is not None and retrieved.file else None
        if not url:
            raise ProviderError(
                ErrorCode.TRANSIENT, f"{TITLE} gave no download_url for file {file_id} yet; will ask again."
            )
        return url

    def parse_callback(self, payload: dict[str, Any], submission: Submission) -> Snapshot | None:
        """A status update (the query's body, its status in lower case). None for the URL check ({"challenge"}),
        another task, a success (it names a file_id, not a URL: a poll fetches it) or a status not known."""
        if "challenge" in payload:
            return None
        task = Task.read(payload)
        if task is None or not task.status or about_another_job(task.task_id, submission.ref):
            return None
        status = STATUS_ALIASES.get(task.status.lower())
        if status is None or status == "Success":
            return None
        return self.snapshot(task.model_copy(update={"status": status}), submission, None)

    def failure_fields(self, task: Task, matched: str) -> dict[str, Any]:
        code, said = task.job_failure()
        failed = f" ({code}: {said})" if code else (f" ({said})" if said else " (no reason given)")
        return {"shown": shown(task.code, said) if code else "", "failed": failed}

    # -- request mapping -----------------------------------------------------------------------
    def body(self, request: VideoRequest) -> dict[str, Any]:
        """The JSON MiniMax gets (field names as in the docs' examples and MiniMax-MCP)."""
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": request.prompt,
            "duration": int(request.duration),
            "resolution": request.resolution,
        }
        if request.images:
            body["first_frame_image"] = self.image(request.images[0], "images[0]")
        if request.end_image:
            body["last_frame_image"] = self.image(request.end_image, "end_image")
        for option in ("prompt_optimizer", "fast_pretreatment"):
            if option in request.options:
                body[option] = request.options[option]
        return body

    def image(self, value: str, what: str) -> str:
        """A URL as is; a local file or data URI as a data URL of a type MiniMax takes, within its limits."""
        if images.classify(value) == "url":
            return images.check_url(value)
        data, mime = images.to_bytes(value, self.allowed_dirs)
        width, height = images.check_pixels(data, what)
        if min(width, height) <= 300:
            raise InvalidRequest(f"{what} is {width}x{height}: MiniMax needs the short side over 300 px.")
        if not 2 / 5 <= width / height <= 5 / 2:
            raise InvalidRequest(f"{what} is {width}x{height}: MiniMax needs an aspect ratio between 2:5 and 5:2.")
        uri = images.data_uri_under(data, mime, MAX_IMAGE_CHARS, IMAGE_TYPES)
        if uri is None:
            raise InvalidRequest(f"{what} does not fit MiniMax's 20 MB image limit even as a JPEG; pass a smaller one.")
        return uri


error_for = MiniMaxProvider.error_for


def base_error(code: int, said: str, during: str, trace: str = "") -> ProviderError:
    """A non-zero base_resp code met during "submit", "poll" or "retrieve", by the ERRORS table."""
    answer = Answer(base_resp=BaseResp(status_code=code, status_msg=said))
    answer._trace, answer._what = trace, ("file" if during == "retrieve" else "task")
    error = MiniMaxProvider.error_from(answer, status=None, method="POST" if during == "submit" else "GET")
    assert error is not None  # the table's last code row takes any code
    return error
