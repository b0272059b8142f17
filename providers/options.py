"""The typed `options` argument of generate_video and estimate_cost: every provider-specific option any
ModelSpec declares, each optional. A typed model (not a free-form object) so that every framework can
convert the tool schema (strict function calling, Gemini) and a misspelled option is refused by name.
Which model takes which option, and the provider's own rules, stay in the catalog and the adapters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from providers.kling import CAMERA_TYPES


class _Closed(BaseModel):
    # strict: a JSON `true` is not the number 1, "0.5" not a number; extra: a misspelled key is refused.
    model_config = ConfigDict(extra="forbid", strict=True)


# Not nullable: 0 is no movement on that axis, and a strict-mode model must send each axis anyway.
Axis = Annotated[float, Field(ge=-10, le=10)]


class CameraAxes(_Closed):
    horizontal: Axis = 0
    vertical: Axis = 0
    pan: Axis = 0
    tilt: Axis = 0
    roll: Axis = 0
    zoom: Axis = 0


class CameraControl(_Closed):
    type: Literal[CAMERA_TYPES] = Field(description="The camera movement.")  # type: ignore[valid-type]
    config: CameraAxes | None = Field(None, description="Only with type simple: movement per axis, -10..10.")


# Each option is taken only by the models that list it under `options` in list_models.
class VideoOptions(_Closed):
    camera_control: CameraControl | None = Field(None, description="Kling: camera movement; not with end_image.")
    cfg_scale: float | None = Field(None, ge=0, le=1, description="Kling, fal: how closely to follow the prompt.")
    keep_original_sound: bool | None = Field(None, description="runblob: keep the input's sound (default true).")
