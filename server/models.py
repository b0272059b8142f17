"""The shapes agents see: structured output of the tools.

Output schemas are sent on every tools/list and count against an agent's context: fields are described in a
few words, without pydantic's per-field titles, and large nested shapes (the request, the error codes) are
summarised in words rather than repeated in full.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SerializeAsAny, WithJsonSchema

from providers.base import CostEstimate, CostLine, ErrorCode, JobStatus, Mode, VideoRequest
from server.budget import BudgetCheck


def tight_schema(schema: dict[str, Any], cls: type | None = None) -> None:
    """json_schema_extra: drop titles; `T | None` of a plain type becomes `{"type": [T, "null"]}`."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        variants = prop.get("anyOf")
        if variants and len(variants) == 2 and {"type": "null"} in variants:
            other = variants[0] if variants[1] == {"type": "null"} else variants[1]
            if set(other) == {"type"}:
                del prop["anyOf"]
                prop["type"] = [other["type"], "null"]
        if "default" in prop and prop["default"] in (None, "", [], {}):
            del prop["default"]


class Shape(BaseModel):
    model_config = ConfigDict(json_schema_extra=tight_schema)


# The Job's request is the whole VideoRequest (validated as such), described in words in the schema.
Request = Annotated[
    VideoRequest,
    WithJsonSchema(
        {
            "type": "object",
            "description": "the validated request, defaults filled in",
        }
    ),
]
Code = Annotated[
    ErrorCode,
    WithJsonSchema({"type": "string", "description": "e.g. INVALID_INPUT, RATE_LIMITED"}),
]


class JobVideo(Shape):
    path: str = Field(description="the MP4 on this machine")
    url: str | None = Field(None, description="provider's URL (expires)")
    thumbnail_path: str | None = Field(None, description="PNG of a frame")
    duration_seconds: float = Field(description="seconds")
    width: int = Field(description="pixels")
    height: int = Field(description="pixels")
    size_bytes: int = Field(description="file size")
    download_url: str | None = Field(None, description="signed HTTP link (expires)")
    thumbnail_url: str | None = Field(None, description="same, to the PNG")


class JobError(Shape):
    code: Code
    message: str = Field(description="what went wrong, what to do")
    retryable: bool = Field(description="retrying as is may work")


def _no_default(schema: dict[str, Any]) -> None:
    """Results carry every field: a default in an output schema is tokens that tell an agent nothing."""
    schema.pop("default", None)


class Job(Shape):
    """A video job from the local job index."""

    job_id: str = Field(description="for get_status, cancel_job")
    status: JobStatus = Field(description="the last three are final")
    progress: float | None = Field(None, description="0..1 while running, if reported")
    queue_position: int | None = Field(None, description="at the provider, if reported")
    message: str = Field("", description="latest status")
    provider: str = Field(description="provider name")
    model: str = Field(description="model id")
    request: Request
    cost: float | None = Field(None, description="USD: charged, else estimated")
    cost_is_estimate: bool = Field(True, description="no charge reported yet", json_schema_extra=_no_default)
    provider_job_id: str | None = Field(None, description="the provider's id")
    idempotency_key: str | None = Field(None, description="as given to generate_video")
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")
    finished_at: str | None = Field(None, description="ISO 8601")
    video: JobVideo | None = Field(None, description="once succeeded")
    error: JobError | None = Field(None, description="why it failed")
    deduplicated: bool = Field(False, description="an earlier identical request's job", json_schema_extra=_no_default)
    next_step: str = Field("", description="what to do next")


def _points_to_get_status(schema: dict[str, Any], cls: type | None = None) -> None:
    """The Job's schema in full once per tools/list (get_status); other tools name it and give the essentials."""
    schema.clear()
    schema.update(
        type="object",
        description="The Job, as get_status returns it.",
        properties={"job_id": {"type": "string"}, "status": {"type": "string"}, "next_step": {"type": "string"}},
        required=["job_id", "status"],
    )


class SameJob(Job):
    """A Job (validated as one) whose published schema refers to get_status's instead of repeating it."""

    model_config = ConfigDict(json_schema_extra=_points_to_get_status)


class JobList(Shape):
    # Each item is the full Job, but the schema does not repeat it: get_status publishes that shape.
    jobs: list[Job] = Field(
        json_schema_extra={"items": {"type": "object", "description": "a Job, as get_status returns it"}},
        description="newest first",
    )


# 5.0 reads as 5: a few characters per duration, in every row of every listing.
Seconds = Annotated[float, PlainSerializer(lambda d: int(d) if d == int(d) else d, return_type=float | int)]


class ModelSummary(Shape):
    """One model in a row: enough to choose it."""

    provider: str = Field(description="provider name")
    model: str = Field(description="model id")
    modes: list[Mode] = Field(description="text_to_video, image_to_video, video_to_video")
    durations: list[Seconds] = Field(description="seconds allowed")
    resolutions: list[str] = Field(description="allowed")
    audio: bool = Field(description="can generate sound")
    example_cost_usd: float = Field(description="one video at the model's defaults")
    configured: bool = Field(description="credentials set: usable now")


class ModelInfo(ModelSummary):
    """Everything about one model (list_models with `model`)."""

    name: str = Field(description="display name")
    is_default: bool = Field(description="used when no provider/model is given")
    provider_title: str = Field(description="provider's display name")
    description: str = Field(description="what it is good at")
    default_duration: float = Field(description="seconds")
    aspect_ratios: list[str] = Field(description="allowed")
    default_aspect_ratio: str = Field(description="used when none is given")
    default_resolution: str = Field(description="used when none is given")
    max_images: int = Field(description="start images it takes (0: text only)")
    end_image: bool = Field(description="takes a last frame")
    negative_prompt: bool = Field(description="takes negative_prompt")
    seed: bool = Field(description="takes seed")
    max_prompt_chars: int = Field(description="prompt length limit")
    options: dict[str, str] = Field(default_factory=dict, description="generate_video `options`: name -> what it takes")
    price: str = Field(description="the price rule in words")
    price_source: str = Field("", description="https URL where the provider publishes the price")
    price_checked: str = Field("", description="YYYY-MM-DD the price was checked there")
    missing_env: list[str] = Field(default_factory=list, description="env vars to set to use it")


class ProviderModels(Shape):
    """A provider in one row of the bare listing: its model ids, and what to set when it has no credentials."""

    provider: str
    missing_env: list[str]
    models: list[str]


# Rows are ModelSummary, or ModelInfo in full: serialized as what they are, described once in words.
Rows = Annotated[
    list[SerializeAsAny[ModelSummary]],
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "object"},
            "description": "rows: provider, model, modes, durations, resolutions, audio, example_cost_usd, "
            "configured; with `model`, every detail",
        }
    ),
]
Others = Annotated[
    list[ProviderModels],
    WithJsonSchema(
        {
            "type": "array",
            "description": "unfiltered: the other providers as {provider, missing_env (to set), models (ids)}",
        }
    ),
]


class ModelList(Shape):
    default_provider: str = Field(description="used when no provider is given")
    default_model: str = Field("", description="provider/model used when none is given")
    models: Rows
    others: Others = []
    note: str = Field("", description="how to narrow or get detail")


# The nested shapes of a cost report in words: the report is what an agent reads; the figures are its fields.
Breakdown = Annotated[
    list[CostLine], WithJsonSchema({"type": "array", "description": "lines of {item, usd} adding up to usd"})
]
Budget = Annotated[
    BudgetCheck | None,
    WithJsonSchema(
        {
            "type": ["object", "null"],
            "description": "today's spend and limits (today_spent_usd, daily_budget_usd, remaining_today_usd, "
            "max_cost_per_job_usd, confirm_above_usd), needs_confirmation, refused (why)",
        }
    ),
]


class CostReport(CostEstimate):
    model_config = ConfigDict(json_schema_extra=tight_schema)

    breakdown: Breakdown
    configured: bool = Field(description="whether the provider's credentials are set")
    budget: Budget = None


__all__ = [
    "CostReport",
    "Job",
    "JobError",
    "JobList",
    "JobVideo",
    "ModelInfo",
    "ModelList",
    "ModelSummary",
    "ProviderModels",
    "SameJob",
]
