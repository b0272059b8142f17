"""Reading a provider's answers tolerantly, the way its own client does with dict lookups: extra fields are
ignored by the adapters' models, and a field of the wrong shape reads as absent (each caller decides what a
missing field means), never as a crash."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator

T = TypeVar("T")


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


Lenient = WrapValidator(_or_none)
Maybe = Annotated[T | None, Lenient]  # Maybe[str]: a str, or None when absent or of another shape
