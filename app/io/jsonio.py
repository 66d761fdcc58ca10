"""``JSON``: any JSON value, or one validated against a pydantic model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pydantic
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, as_output_error, read_body
from app.io.codec import dumps, loads, type_schema, validation_detail
from app.server.http_errors import BadInput, BadOutput

__all__ = ["JSON"]


class JSON(IODescriptor):
    """Parsed JSON, or with ``pydantic_model`` an instance of that model (400 when invalid).

    As an output, a value that is not an instance of ``pydantic_model`` is validated against it
    (a mismatch is the API's fault: 500). ``JSON.from_sample(model_instance)`` takes the model
    from the sample.
    """

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
        body = await read_body(request)
        value = loads(body)
        if self.pydantic_model is None:
            return value
        return validate_json(self.pydantic_model, body)

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        if self.pydantic_model is not None and not isinstance(value, self.pydantic_model):
            with as_output_error():
                value = validate(self.pydantic_model, value)
        if isinstance(value, pydantic.BaseModel):
            value = value.model_dump(mode="json")
        try:
            body = dumps(value)
        except TypeError as exc:
            raise BadOutput(f"A {type(value).__name__} cannot be written as JSON.", detail=str(exc)) from exc
        return Response(body, media_type="application/json")

    def _take_sample(self, sample: Any, given: set[str]) -> Any:
        if isinstance(sample, pydantic.BaseModel):
            if "pydantic_model" not in given:
                self.pydantic_model = type(sample)
            return sample
        if isinstance(sample, (str, bytes)):
            try:
                return orjson.loads(sample)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"JSON.from_sample: the sample is not valid JSON: {exc}") from None
        try:
            dumps(sample)
        except TypeError as exc:
            raise ValueError(f"JSON.from_sample needs a JSON value or a pydantic model: {exc}") from None
        return sample

    def spec(self) -> dict[str, Any]:
        return {"type": "json"}  # the model is the schema beside it

    def openapi_example(self) -> Any:
        sample = self.sample
        if isinstance(sample, pydantic.BaseModel):
            return sample.model_dump(mode="json")
        return None if sample is None else orjson.loads(dumps(sample))

    def openapi_request_body(self) -> dict[str, Any]:
        schema = type_schema(self.pydantic_model)[0] if self.pydantic_model else {}
        return self._with_example({"application/json": {"schema": schema}}, "application/json")

    def openapi_responses(self) -> dict[str, Any]:
        schema = type_schema(self.pydantic_model)[1] if self.pydantic_model else {}
        return self._with_example({"application/json": {"schema": schema}}, "application/json")

    def openapi_components(self) -> dict[str, dict[str, Any]]:
        return type_schema(self.pydantic_model)[2] if self.pydantic_model else {}


def validate(model: type[pydantic.BaseModel], value: Any) -> pydantic.BaseModel:
    """A Python value (a return value, a form's fields) as ``model``, in pydantic's lax mode."""
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        raise _mismatch(model, exc) from exc


def validate_json(model: type[pydantic.BaseModel], body: bytes) -> pydantic.BaseModel:
    """A JSON body (already known to parse) as ``model``, held to its documented JSON schema.

    pydantic's JSON mode is strict unless the model says otherwise (``ConfigDict(strict=False)``):
    lax mode would take ``false`` for a number and ``"1"`` for an integer, which the schema in
    /docs.json refuses."""
    try:
        return strict_json(lambda strict: model.model_validate_json(body, strict=strict), json_strictness(model))
    except pydantic.ValidationError as exc:
        raise _mismatch(model, exc) from exc


T = TypeVar("T")


def strict_json(validate: Callable[[bool | None], T], strict: bool | None) -> T:
    """``validate(strict)``, where an integral float (``5.0``) still counts as an integer.

    JSON Schema's ``integer`` takes ``5.0``; pydantic's strict mode does not. When those are the
    only complaints, the lax pass takes them, and finds nothing else to coerce: the rest passed."""
    try:
        return validate(strict)
    except pydantic.ValidationError as exc:
        if strict is not True or not _only_integral_floats(exc):
            raise
        return validate(False)


def _only_integral_floats(exc: pydantic.ValidationError) -> bool:
    errors = exc.errors()
    return all(
        isinstance(e.get("input"), float) and e["input"].is_integer() and e["type"] != "bool_type" for e in errors
    ) and any(e["type"] == "int_type" for e in errors)


def json_strictness(model: type[pydantic.BaseModel]) -> bool | None:
    """Strict, unless the model's own config chooses (``None`` lets pydantic read it)."""
    return None if "strict" in model.model_config else True


def _mismatch(model: type[pydantic.BaseModel], exc: pydantic.ValidationError) -> BadInput:
    count = exc.error_count()
    return BadInput(
        f"The JSON body does not match {model.__name__} ({count} error{'s' if count != 1 else ''}).",
        detail=validation_detail(exc),
    )
