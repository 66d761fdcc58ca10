"""Errors raised by runners, on either side of the sidecar hop.

Each carries the HTTP status it maps to, so the runner server and the API server answer
the same way, and they cross the wire as JSON (``to_dict``/``from_dict``), never pickled.

    RunnerError                   500  base; an exception inside the model
    ├── InvalidInput              400  undecodable body, wrong shape for the model
    ├── UnknownMethod             404  the runner has no such method
    ├── UnsupportedMediaType      415  a content type the runner does not take
    ├── RunnerOverloaded          503  the batching queue is full (has retry_after)
    ├── RunnerUnavailable         503  the sidecar cannot be reached, or is not ready
    └── DeadlineExceeded          504  the caller's deadline passed before the work was done
"""

from __future__ import annotations

from typing import Any


class RunnerError(Exception):
    status_code: int = 500
    message: str = "The runner failed to compute the result."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "type": type(self).__name__}
        if self.detail is not None:
            body["detail"] = self.detail
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any], status_code: int, retry_after: float | None = None) -> RunnerError:
        kind = _BY_NAME.get(str(body.get("type")))
        if kind is None:
            kind = _BY_STATUS.get(status_code, RunnerError)
        return kind(str(body.get("error") or kind.message), detail=body.get("detail"), retry_after=retry_after)


class InvalidInput(RunnerError):
    status_code = 400
    message = "The runner could not use the input."


class UnknownMethod(RunnerError):
    status_code = 404
    message = "The runner has no such method."


class UnsupportedMediaType(RunnerError):
    status_code = 415
    message = "The runner does not accept this content type."


class RunnerOverloaded(RunnerError):
    status_code = 503
    message = "The runner's queue is full; retry later."


class RunnerUnavailable(RunnerError):
    status_code = 503
    message = "The runner is unavailable."


class DeadlineExceeded(RunnerError):
    status_code = 504
    message = "The request's deadline passed before the runner computed it."


_KINDS = (
    RunnerError,
    InvalidInput,
    UnknownMethod,
    UnsupportedMediaType,
    RunnerOverloaded,
    RunnerUnavailable,
    DeadlineExceeded,
)
_BY_NAME = {k.__name__: k for k in _KINDS}
_BY_STATUS = {
    400: InvalidInput,
    404: UnknownMethod,
    415: UnsupportedMediaType,
    503: RunnerUnavailable,
    504: DeadlineExceeded,
}
