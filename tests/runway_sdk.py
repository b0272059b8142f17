"""The official Runway SDK's declarations (runwayml 5.24 *_create_params TypedDicts), read for the tests that
hold the adapter's bodies and the simulator's rules against them."""

from __future__ import annotations

import typing
from typing import Any

import pytest


def sdk_models() -> dict[str, dict[str, dict[str, tuple[Any, bool]]]]:
    """endpoint -> model id -> wire field (camelCase) -> (its type, required), from the SDK's TypedDicts."""
    runwayml = pytest.importorskip("runwayml")
    if tuple(int(p) for p in runwayml.__version__.split(".")[:2]) < (5, 24):
        pytest.skip(f"runwayml {runwayml.__version__}: these checks are against 5.24's declarations")
    from runwayml._utils import PropertyInfo
    from runwayml.types import image_to_video_create_params, text_to_video_create_params, video_to_video_create_params

    def field(tp: Any) -> tuple[Any, bool, str | None]:
        required, alias = False, None
        while True:
            origin = typing.get_origin(tp)
            if origin in (typing.Required, typing.NotRequired):
                required, tp = origin is typing.Required, typing.get_args(tp)[0]
            elif origin is typing.Annotated:
                tp, *meta = typing.get_args(tp)
                alias = next((m.alias for m in meta if isinstance(m, PropertyInfo) and m.alias), alias)
            else:
                return tp, required, alias

    found: dict[str, dict[str, dict[str, tuple[Any, bool]]]] = {}
    for endpoint, union in (
        ("text_to_video", text_to_video_create_params.TextToVideoCreateParams),
        ("image_to_video", image_to_video_create_params.ImageToVideoCreateParams),
        ("video_to_video", video_to_video_create_params.VideoToVideoCreateParams),
    ):
        for params in typing.get_args(union):
            fields = {}
            for name, hint in typing.get_type_hints(params, include_extras=True).items():
                tp, required, alias = field(hint)
                fields[alias or name] = (tp, required)
            (model,) = typing.get_args(fields.pop("model")[0])
            found.setdefault(endpoint, {})[model] = fields
    return found


def literals(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    return tuple(v for arg in typing.get_args(tp) for v in literals(arg))


def frame_positions(tp: Any) -> tuple[tuple[str, ...], bool] | None:
    """promptImage: Union[str, Iterable[{uri, position}]] -> (positions, position required); None when the SDK
    types the items as bare `object` (hailuo3, wan3)."""
    (items,) = [a for a in typing.get_args(tp) if a is not str]
    (frame,) = typing.get_args(items)
    if frame is object:
        return None
    hint = typing.get_type_hints(frame, include_extras=True)["position"]
    return literals(hint), typing.get_origin(hint) is typing.Required
