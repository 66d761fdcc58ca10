"""Descriptors derived from type annotations, for the class-style SDK.

    @api
    def summarize(self, text: str = EXAMPLE) -> str: ...

The annotated parameters become the fields of a JSON body (``json_body_model`` +
``JSONBody``) and the return annotation picks the output descriptor
(``descriptor_for_annotation``). A ``PIL.Image.Image`` parameter makes the body a
multipart/form-data form (the image a file, the other parameters form fields); a
``PIL.Image.Image`` return answers a PNG.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Collection
from typing import Annotated, Any

import numpy as np
import orjson
import pydantic
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from app.io.base import IODescriptor, read_body
from app.io.codec import json_response, jsonable, loads, type_schema, validation_detail
from app.io.dataframe import PandasDataFrame
from app.io.fields import is_dataframe_type, is_image_type, jsonable_annotation
from app.io.file import File
from app.io.image import Image
from app.io.jsonio import JSON, strict_json, validate, validate_json
from app.io.multipart import MULTIPART, decode_part
from app.io.ndarray import NumpyNdarray
from app.io.text import Text
from app.server.http_errors import BadInput, ServiceError

__all__ = ["JSONBody", "TypedJSON", "descriptor_for_annotation", "json_body_model", "type_hints"]


def descriptor_for_annotation(tp: Any) -> IODescriptor:
    """The descriptor that encodes values of type ``tp`` (a return annotation)."""
    base = typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp
    if base is inspect.Signature.empty or base is Any or isinstance(base, str):
        return JSON()
    if base is str:
        return Text()
    if base is bytes:
        return File()
    if base is np.ndarray or typing.get_origin(base) is np.ndarray:
        return NumpyNdarray()
    if is_dataframe_type(base):
        return PandasDataFrame()
    if is_image_type(base):
        return Image(mime_type="image/png")
    if isinstance(base, type) and issubclass(base, pydantic.BaseModel):
        return JSON(pydantic_model=base)
    return TypedJSON(tp)


class TypedJSON(IODescriptor):
    """JSON of any type pydantic knows (``dict[str, float]``, ``list[Model]``, ``int``, ``None``)."""

    media_types = ("application/json",)

    def __init__(self, tp: Any) -> None:
        self.tp = tp
        self._annotation = jsonable_annotation(tp)
        self._adapter: pydantic.TypeAdapter[Any] | None
        try:
            self._adapter = pydantic.TypeAdapter(self._annotation)
        except (pydantic.PydanticSchemaGenerationError, TypeError):
            self._adapter = None  # a type pydantic cannot describe: plain JSON encoding

    async def from_request(self, request: Request) -> Any:
        self.check_media_type(request)
        body = await read_body(request)
        value = loads(body)
        if self._adapter is None:
            return value
        try:  # strict, as JSON(pydantic_model) validates: what the documented schema allows
            adapter = self._adapter
            return strict_json(lambda strict: adapter.validate_json(body, strict=strict), True)
        except pydantic.ValidationError as exc:
            raise BadInput("The JSON body does not match the declared type.", detail=validation_detail(exc)) from exc

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        if self._adapter is not None:
            value = self._adapter.dump_python(value, mode="json", warnings=False, fallback=jsonable)
        return json_response(value)

    def spec(self) -> dict[str, Any]:
        return {"type": "json"}

    def openapi_request_body(self) -> dict[str, Any]:
        return {"application/json": {"schema": self._schemas()[0]}}

    def openapi_responses(self) -> dict[str, Any]:
        return {"application/json": {"schema": self._schemas()[1]}}

    def openapi_components(self) -> dict[str, dict[str, Any]]:
        return self._schemas()[2]

    def _schemas(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
        if self._adapter is None:
            return {}, {}, {}
        return type_schema(self._annotation)


def json_body_model(func: Callable[..., Any], *, skip: Collection[str] = ()) -> type[pydantic.BaseModel]:
    """A model whose fields are ``func``'s annotated parameters (``self``, ``*args`` and ``skip`` left out)."""
    hints = type_hints(func)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in ("self", "cls") or name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, param.annotation)
        if annotation is param.empty or isinstance(annotation, str):
            annotation = Any
        default = ... if param.default is param.empty else param.default
        fields[name] = (jsonable_annotation(annotation), default)
    config = pydantic.ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)
    model_name = _camel(getattr(func, "__name__", "api")) + "Input"
    model = pydantic.create_model(model_name, __config__=config, **fields)
    model.__doc__ = f"The JSON body of {getattr(func, '__qualname__', model_name)}."
    return model


def type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; one that does not resolve (a name local to a function) stays a string."""
    with contextlib.suppress(Exception):  # one that does not resolve: each on its own, below
        return typing.get_type_hints(func, include_extras=True)
    hints: dict[str, Any] = {}
    globalns = getattr(func, "__globals__", {})
    for name, annotation in getattr(func, "__annotations__", {}).items():
        try:
            holder = types.SimpleNamespace(__annotations__={name: annotation})
            hints[name] = typing.get_type_hints(holder, globalns=globalns, include_extras=True)[name]
        except Exception:
            hints[name] = annotation
    return hints


class JSONBody(IODescriptor):
    """A JSON object whose fields are an API's keyword arguments; decodes to a ``dict``.

    With an image field the body is a multipart/form-data form instead: each image field a file
    (decoded as ``Image()`` decodes a body), each other field a form value, read as JSON when the
    field is not a string (``-F scale=0.5``, ``-F box='[1, 2, 3, 4]'``).
    """

    media_types = ("application/json",)
    as_kwargs = True

    def __init__(self, model: type[pydantic.BaseModel]) -> None:
        self.model = model
        self.image_fields = tuple(n for n, f in model.model_fields.items() if _holds_image(f.annotation))
        if self.image_fields:
            self.media_types = (MULTIPART,)
            self.default_when_missing = False
            self._image = Image()
        # No body is {}: valid when every argument has a default.
        required = any(f.is_required() for f in model.model_fields.values())
        self.accepts_empty_body = not self.image_fields and not required

    @property
    def argument_names(self) -> tuple[str, ...]:
        """The API is called with these keyword arguments (``app.sdk.inference``)."""
        return tuple(self.model.model_fields)

    async def from_request(self, request: Request) -> dict[str, Any]:
        form = self.check_media_type(request) == MULTIPART
        if form:
            value = await self._from_form(request)
        else:
            body = await read_body(request)
            if not body.strip():
                body = b"{}"
            value = loads(body)
        if not isinstance(value, dict):
            fields = ", ".join(self.model.model_fields) or "no fields"
            raise BadInput(
                "The JSON body must be an object of named arguments.",
                detail=f"Expected an object with: {fields}; got {type(value).__name__}.",
            )
        # A form's fields are text read leniently; a JSON body is held to its documented schema.
        instance = validate(self.model, value) if form else validate_json(self.model, body)
        return {name: getattr(instance, name) for name in type(instance).model_fields}

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        if isinstance(value, pydantic.BaseModel):
            value = value.model_dump(mode="json")
        return json_response(value)

    async def _from_form(self, request: Request) -> dict[str, Any]:
        try:
            form = await request.form(max_part_size=sys.maxsize)  # the body-size limit bounds it
        except ServiceError:
            raise
        except Exception as exc:
            raise BadInput("The multipart body could not be parsed.", detail=str(exc)) from exc
        try:
            values: dict[str, Any] = {}
            for name, item in form.multi_items():
                if name in values:
                    raise BadInput(f"The form holds {name!r} more than once; send each field once.")
                if name in self.image_fields:
                    values[name] = await decode_part(name, self._image, item)
                else:
                    text = (await item.read()).decode("utf-8", "replace") if isinstance(item, UploadFile) else item
                    values[name] = self._form_value(name, text)
            return values
        finally:
            await form.close()

    def _form_value(self, name: str, text: str) -> Any:
        """A form field's text: as is for a string field, else JSON if it parses (pydantic checks the rest)."""
        field = self.model.model_fields.get(name)
        if field is None or field.annotation is str or str in typing.get_args(field.annotation):
            return text
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text

    def spec(self) -> dict[str, Any]:
        """A JSON object of the keyword arguments, or with images a form of them (images as files)."""
        return {"type": "fields", "fields": list(self.model.model_fields), "images": list(self.image_fields)}

    def openapi_request_body(self) -> dict[str, Any]:
        schema = type_schema(self.model)[0]
        if not self.image_fields:
            return {"application/json": {"schema": schema}}
        images = ", ".join(self._image.allowed_mime_types)
        return {MULTIPART: {"schema": schema, "encoding": {n: {"contentType": images} for n in self.image_fields}}}

    def openapi_responses(self) -> dict[str, Any]:
        return {"application/json": {"schema": type_schema(self.model)[1]}}

    def openapi_components(self) -> dict[str, dict[str, Any]]:
        return type_schema(self.model)[2]


def _holds_image(annotation: Any) -> bool:
    """``PIL.Image.Image``, also inside ``Optional[...]``/``Annotated[...]``."""
    if is_image_type(annotation):
        return True
    return any(_holds_image(a) for a in typing.get_args(annotation) if a is not type(None))


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part) or "Api"
