"""``spec()``: what each descriptor tells clients in ``/docs.json`` (``x-tiffin-io``)."""

from __future__ import annotations

import pydantic
import pytest

from app.config.assemble import descriptor
from app.config.schema import IoConfig
from app.io import JSON, File, Image, Multipart, NumpyNdarray, PandasDataFrame, PandasSeries, Text

DESCRIPTORS = [
    NumpyNdarray(),
    NumpyNdarray(dtype="float32", shape=(-1, 4), enforce_dtype=True, enforce_shape=True),
    NumpyNdarray(dtype="str"),
    JSON(),
    Text(),
    File(),
    File(mime_type="image/png"),
    Image(),
    Image(pilmode="RGB", mime_type="image/png", allowed_mime_types=["image/png"], max_pixels=100),
    PandasDataFrame(),
    PandasDataFrame(orient="split", columns=["a"], dtype={"a": "int64"}, enforce_dtype=True, default_format="parquet"),
    PandasSeries(orient="index", dtype="float64", shape=(-1,), enforce_shape=True),
]


@pytest.mark.parametrize("desc", DESCRIPTORS, ids=repr)
def test_spec_is_the_yaml_form_of_the_descriptor(desc):
    spec = desc.spec()
    rebuilt = descriptor(pydantic.TypeAdapter(IoConfig).validate_python(spec))
    assert type(rebuilt) is type(desc)
    assert rebuilt.spec() == spec


def test_multipart_spec_nests_its_parts():
    spec = Multipart(image=Image(), note=Text()).spec()
    assert spec == {"type": "multipart", "parts": {"image": Image().spec(), "note": {"type": "text"}}, "optional": []}
