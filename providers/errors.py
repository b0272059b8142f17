"""What can go wrong, in terms an agent can act on: the error codes and the one exception type every part
raises. Its own module so that providers.base and providers.http both import it without a cycle."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """What went wrong, in terms an agent can act on."""

    INVALID_INPUT = "INVALID_INPUT"  # the request breaks a documented limit
    NOT_CONFIGURED = "NOT_CONFIGURED"  # the provider's credentials are missing
    AUTH = "AUTH"  # credentials rejected
    OUT_OF_CREDIT = "OUT_OF_CREDIT"
    RATE_LIMITED = "RATE_LIMITED"
    CONTENT_POLICY = "CONTENT_POLICY"
    NOT_FOUND = "NOT_FOUND"
    TRANSIENT = "TRANSIENT"  # a network or server fault that may pass
    PROVIDER_FAILED = "PROVIDER_FAILED"  # the provider ran the job and it failed
    SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"  # we cannot tell whether the provider took (and charged) the job
    TIMED_OUT = "TIMED_OUT"
    OVER_BUDGET = "OVER_BUDGET"  # a spending limit set by the person refuses it
    NEEDS_CONFIRMATION = "NEEDS_CONFIRMATION"  # the person must approve the cost and could not be asked
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    INTERNAL = "INTERNAL"


# Codes worth another try with the same request.
RETRYABLE = {ErrorCode.RATE_LIMITED, ErrorCode.TRANSIENT, ErrorCode.TIMED_OUT, ErrorCode.DOWNLOAD_FAILED}


class ProviderError(Exception):
    """An error with a code, a message a person can act on, and whether retrying may help."""

    def __init__(
        self, code: ErrorCode, message: str, *, retryable: bool | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = code in RETRYABLE if retryable is None else retryable
        self.retry_after = retry_after


class InvalidRequest(ProviderError):
    """Bad input, found before any money is spent."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.INVALID_INPUT, message, retryable=False)
