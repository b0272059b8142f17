"""The shapes agents see: structured output of the tools."""

from __future__ import annotations

from pydantic import BaseModel, Field

from providers.base import CostEstimate, ErrorCode, JobStatus, Mode, VideoRequest
from server.budget import BudgetCheck


class JobVideo(BaseModel):
    path: str = Field(description="the MP4 on this machine")
    url: str | None = Field(None, description="the provider's download URL (may expire)")
    thumbnail_path: str | None = None
    duration_seconds: float
    width: int
    height: int
    size_bytes: int


class JobError(BaseModel):
    code: ErrorCode
    message: str
    retryable: bool = Field(description="whether the same request may succeed if tried again")


class Job(BaseModel):
    """A video generation job, as recorded in the local job index."""

    job_id: str
    status: JobStatus
    progress: float | None = Field(None, description="0..1 while running, when the provider reports it")
    queue_position: int | None = None
    message: str = ""
    provider: str
    model: str
    request: VideoRequest
    cost: float | None = Field(None, description="USD: the provider's charge when known, else the estimate")
    cost_is_estimate: bool = True
    provider_job_id: str | None = None
    idempotency_key: str | None = None
    created_at: str
    updated_at: str
    finished_at: str | None = None
    video: JobVideo | None = None
    error: JobError | None = None
    next_step: str = Field("", description="what to do next")


class JobList(BaseModel):
    jobs: list[Job]


class ModelInfo(BaseModel):
    provider: str
    provider_title: str
    model: str
    name: str
    description: str
    modes: list[Mode]
    durations: list[float]
    default_duration: float
    aspect_ratios: list[str]
    default_aspect_ratio: str
    resolutions: list[str]
    default_resolution: str
    audio: bool
    max_images: int
    end_image: bool
    negative_prompt: bool
    seed: bool
    max_prompt_chars: int
    options: dict[str, str] = Field(
        default_factory=dict, description="provider-specific settings (generate_video `options`): name -> what it takes"
    )
    price: str = Field(description="the price rule in words")
    example_cost_usd: float = Field(description="price of one video at the default settings")
    configured: bool = Field(description="whether the provider's credentials are set")
    missing_env: list[str] = Field(default_factory=list, description="env vars to set to use this provider")
    is_default: bool = Field(description="the model used when no provider/model is given")


class ModelList(BaseModel):
    default_provider: str
    models: list[ModelInfo]


class CostReport(CostEstimate):
    configured: bool = Field(description="whether the provider's credentials are set")
    budget: BudgetCheck | None = Field(None, description="today's spend and the limits this request meets")


__all__ = ["CostReport", "Job", "JobError", "JobList", "JobVideo", "ModelInfo", "ModelList"]
