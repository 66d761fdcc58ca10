"""``JSON``: any JSON value, or one validated against a pydantic model."""

from __future__ import annotations

from typing import Any

import pydantic
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, read_body
from app.io.codec import json_response, loads, type_schema, validation_detail
from app.server.http_errors import BadInput

__all__ = ["JSON"]


class JSON(IODescriptor):
    """Parsed JSON, or with ``pydantic_model`` an instance of that model (400 when invalid)."""

    media_types = ("application/json",)

    def __init__(self, pydantic_model: type[pydantic.BaseModel] | None = None, *, sse: bool = False) -> None:
        if pydantic_model is not None and not (
            isinstance(pydantic_model, type) and issubclass(pydantic_model, pydantic.BaseModel)
        ):
            raise TypeError(f"pydantic_model must be a pydantic BaseModel subclass, not {pydantic_model!r}")
        self.pydantic_model = pydantic_model
        self.sse = sse
        """A streaming API answers Server-Sent Events, whatever the request's ``Accept``."""

    async def from_request(self, request: Request) -> Any:
        self.check_media_type(request)
        value = loads(await read_body(request))
        if self.pydantic_model is None:
            return value
        return validate(self.pydantic_model, value)

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        if isinstance(value, pydantic.BaseModel):
            value = value.model_dump(mode="json")
        return json_response(value)

    def openapi_request_body(self) -> dict[str, Any]:
        schema = type_schema(self.pydantic_model)[0] if self.pydantic_model else {}
        return {"application/json": {"schema": schema}}

    def openapi_responses(self) -> dict[str, Any]:
        schema = type_schema(self.pydantic_model)[1] if self.pydantic_model else {}
        return {"application/json": {"schema": schema}}

    def openapi_components(self) -> dict[str, dict[str, Any]]:
        return type_schema(self.pydantic_model)[2] if self.pydantic_model else {}


def validate(model: type[pydantic.BaseModel], value: Any) -> pydantic.BaseModel:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        count = exc.error_count()
        raise BadInput(
            f"The JSON body does not match {model.__name__} ({count} error{'s' if count != 1 else ''}).",
            detail=validation_detail(exc),
        ) from exc
