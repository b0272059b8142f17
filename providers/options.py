"""The typed `options` argument of generate_video and estimate_cost: every provider-specific option any
ModelSpec declares, each optional. A typed model (not a free-form object) so that every framework can
convert the tool schema (strict function calling, Gemini) and a misspelled option is refused by name.
Which model takes which option, and the provider's own rules, stay in the catalog and the adapters.
Every field here is sent to every agent in tools/list (twice): one short description each."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    # strict: a JSON `true` is not the number 1, "0.5" not a number; extra: a misspelled key is refused.
    model_config = ConfigDict(extra="forbid", strict=True)


# Each option is taken only by the models that list it under `options` in list_models.
class VideoOptions(_Closed):
    cfg_scale: float | None = Field(None, ge=0, le=1, description="Kling, fal: how closely to follow the prompt.")
    keep_original_sound: bool | None = Field(None, description="runblob: keep the input's sound (default true).")
    multi_shots: Literal["prefer", "custom"] | None = Field(None, description="runblob: multi-shot video.")
