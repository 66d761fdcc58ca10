"""pydantic field types for numpy arrays, pandas DataFrames and images inside request bodies.

``def predict(self, x: np.ndarray)`` in a class-style service makes ``x`` a JSON field; these
annotated types let pydantic read such a field from a JSON list (or records, for a
DataFrame), write it back as JSON, and describe it in the OpenAPI document. An image field
(``img: PIL.Image.Image``) comes as a file of a multipart form, decoded before validation.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from app.io.dataframe import PandasDataFrame
from app.io.ndarray import NumpyNdarray
from app.server.http_errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["IMAGE_SCHEMA", "dataframe_field", "image_field", "is_image_type", "jsonable_annotation", "ndarray_field"]

IMAGE_SCHEMA = {"type": "string", "format": "binary", "contentMediaType": "image/*"}


def ndarray_field(dtype: Any = None) -> Any:
    """``Annotated[np.ndarray, ...]`` read from a (nested) JSON list, cast to ``dtype``."""
    descriptor = NumpyNdarray(dtype=dtype)

    def validate(value: Any) -> np.ndarray:
        try:
            if isinstance(value, np.ndarray):
                return descriptor.from_array(value)
            return descriptor.from_json_value(value)
        except BadInput as exc:  # as a ValueError pydantic reports it with the field's location
            raise ValueError(exc.message) from exc

    return Annotated[
        np.ndarray,
        PlainValidator(validate),
        PlainSerializer(lambda a: np.asarray(a).tolist(), when_used="json"),
        WithJsonSchema(descriptor.json_schema()),
    ]


def _dataframe(value: Any) -> pd.DataFrame:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    try:
        return PandasDataFrame().from_json_value(value)
    except BadInput as exc:
        raise ValueError(exc.message) from exc


@functools.cache
def dataframe_field() -> Any:
    """``Annotated[pd.DataFrame, ...]`` read from JSON records; built on first use, as pandas is heavy."""
    import pandas as pd

    return Annotated[
        pd.DataFrame,
        PlainValidator(_dataframe),
        PlainSerializer(lambda f: f.to_dict(orient="records"), when_used="json"),
        WithJsonSchema({"type": "array", "items": {"type": "object"}}),
    ]


def _image(value: Any) -> Any:
    if not is_image_type(type(value)):
        raise ValueError("send the image as a file in a multipart/form-data request")
    return value


@functools.cache
def image_field() -> Any:
    """``Annotated[PIL.Image.Image, ...]``: a decoded image (the body decodes form files first)."""
    import PIL.Image

    return Annotated[PIL.Image.Image, PlainValidator(_image), WithJsonSchema(IMAGE_SCHEMA)]


def is_image_type(tp: Any) -> bool:
    """Whether ``tp`` is ``PIL.Image.Image`` (or a subclass), without importing Pillow."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(tp, type) and issubclass(tp, pil.Image)


def is_dataframe_type(tp: Any) -> bool:
    """Whether ``tp`` is ``pandas.DataFrame``, without importing pandas (code using it already has)."""
    pd = sys.modules.get("pandas")
    return pd is not None and tp is pd.DataFrame


def jsonable_annotation(tp: Any) -> Any:
    """``tp`` with every ndarray and DataFrame inside it replaced by the field types above."""
    if tp is np.ndarray:
        return ndarray_field()
    if typing.get_origin(tp) is np.ndarray:  # numpy.typing.NDArray[np.float64]
        return ndarray_field(_ndarray_dtype(tp))
    if is_dataframe_type(tp):
        return dataframe_field()
    if is_image_type(tp):
        return image_field()
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is None or not args or origin is typing.Literal:
        return tp
    try:
        if origin is Annotated:
            return Annotated[(jsonable_annotation(args[0]), *tp.__metadata__)]
        mapped = tuple(jsonable_annotation(a) if a is not Ellipsis else a for a in args)
        if mapped == args:
            return tp
        if origin in (typing.Union, types.UnionType):
            return typing.Union[mapped]  # noqa: UP007
        return origin[mapped]
    except TypeError:
        return tp


def _ndarray_dtype(tp: Any) -> Any:
    """The scalar type of ``ndarray[shape, dtype[float64]]``, if it names one."""
    args = typing.get_args(tp)
    if len(args) == 2:
        scalar = typing.get_args(args[1])
        if scalar and isinstance(scalar[0], type) and issubclass(scalar[0], np.generic):
            return scalar[0]
    return None
