"""The client in-process: the sync client over starlette's TestClient, the async one over ASGI."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from app import Context, Service, api, service
from app.client import (
    AsyncClient,
    AsyncHTTPClient,
    BadInput,
    Client,
    HTTPClient,
    InternalError,
    NotATiffinServer,
    ServerError,
    SyncClient,
    SyncHTTPClient,
    Unavailable,
    UnknownAPI,
    UnsupportedMediaType,
)
from app.io import JSON, File, NumpyNdarray, PandasDataFrame, Text
from app.io.base import IODescriptor
from app.server.http_errors import Overloaded

# The client gives every request its deadline as a timeout, which starlette's TestClient ignores.
pytestmark = pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument")


class Form(IODescriptor):
    """A multipart test descriptor: named parts in (bytes or str), named parts out."""

    media_types = ("multipart/form-data",)

    def __init__(self, **parts: str) -> None:
        self.parts = parts

    @property
    def argument_names(self) -> tuple[str, ...]:
        return tuple(self.parts)

    async def from_request(self, request: Request) -> dict[str, Any]:
        values = {}
        async with request.form() as form:  # its spooled files closed on the way out
            for name in self.parts:
                value = form[name]
                values[name] = value if isinstance(value, str) else (value.content_type, await value.read())
        return values

    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        chunks = []
        for name, (media_type, data) in value.items():
            head = f'--b0\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            chunks += [f"{head}Content-Type: {media_type}\r\n\r\n".encode(), data, b"\r\n"]
        return Response(b"".join([*chunks, b"--b0--\r\n"]), media_type="multipart/form-data; boundary=b0")

    def _content(self) -> dict[str, Any]:
        binary = {"type": "string", "format": "binary"}
        return {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {name: binary for name in self.parts}},
                "encoding": {name: {"contentType": media} for name, media in self.parts.items()},
            }
        }

    def openapi_request_body(self) -> dict[str, Any]:
        return self._content()

    def openapi_responses(self) -> dict[str, Any]:
        return self._content()


def demo_service() -> Service:
    svc = Service("demo")
    svc.state["attempts"] = 0

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray())
    def classify(x: np.ndarray) -> np.ndarray:
        return x * 2

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray())
    def labels(x: np.ndarray) -> np.ndarray:
        return np.array(["setosa", "virginica"])[(x[:, 0] > 5).astype(int)]

    @svc.api(input=JSON(), output=JSON())
    def echo_json_sync(body: Any) -> Any:
        return body

    @svc.api(input=Text(), output=Text())
    async def shout(text: str) -> str:
        return text.upper()

    @svc.api(input=PandasDataFrame(), output=PandasDataFrame())
    def double_col1(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"col1": df["col1"] * 2})

    @svc.api(input=File(), output=File())
    def reverse(data: bytes) -> bytes:
        return data[::-1]

    @svc.api(input=Form(picture="image/png", note="text/plain"), output=Form(picture="image/png", note="text/plain"))
    def annotate(picture: tuple[str, bytes], note: str, ctx: Context) -> dict[str, tuple[str, bytes]]:
        image = Image.open(io.BytesIO(picture[1])).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return {"picture": ("image/png", out.getvalue()), "note": ("text/plain", f"{note}!".encode())}

    @svc.api(input=JSON(), output=JSON())
    def flaky(body: Any, ctx: Context) -> Any:
        ctx.state["attempts"] += 1
        if ctx.state["attempts"] < 2:
            raise Overloaded(headers={"Retry-After": body.get("retry_after", "1")})
        return {"attempts": ctx.state["attempts"]}

    @svc.api(input=JSON(), output=JSON())
    def boom(body: Any) -> Any:
        raise RuntimeError("internal secret")

    return svc


@pytest.fixture
def http() -> Any:
    with TestClient(demo_service().to_asgi()) as client:
        yield client


def test_each_api_is_a_method_answering_python_values(http: TestClient) -> None:
    client = SyncClient("http://testserver", http=http)
    assert sorted(client.endpoints) == sorted(
        ["annotate", "boom", "classify", "double_col1", "echo_json_sync", "flaky", "labels", "reverse", "shout"]
    )
    doubled = client.classify(np.array([[1.5, 2.0]], dtype=np.float32))
    assert isinstance(doubled, np.ndarray) and doubled.dtype == np.float32 and doubled.tolist() == [[3.0, 4.0]]
    labels = client.labels(np.array([[4.9], [6.3]]))
    assert labels.tolist() == ["setosa", "virginica"]
    assert client.echo_json_sync({"test": "json"}) == {"test": "json"}
    assert client.call("echo_json_sync", [1, "two"]) == [1, "two"]
    assert client.shout("hey") == "HEY"
    frame = client.double_col1(pd.DataFrame({"col1": [101, 1]}))
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"col1": [202, 2]}))
    assert client.reverse(b"\x00abc") == b"cba\x00"
    parts = client.annotate(picture=Image.new("RGB", (2, 1), (9, 9, 9)), note="hi")
    assert parts["note"] == "hi!" and isinstance(parts["picture"], Image.Image) and parts["picture"].size == (2, 1)
    assert client.health().status == 200 and client.health().ready


def test_errors_are_typed_and_carry_the_servers_json_error(http: TestClient) -> None:
    client = SyncClient("http://testserver", http=http)
    with pytest.raises(BadInput) as bad:
        client.call("classify", b"[[1, 2")
    assert bad.value.status_code == 400 and bad.value.error and str(bad.value).startswith("400: ")
    assert bad.value.request_id
    with pytest.raises(InternalError, match=r"^500: ") as failed:
        client.boom({})
    assert "secret" not in str(failed.value) and isinstance(failed.value, ServerError)
    with pytest.raises(UnsupportedMediaType):  # a PNG, to an API that takes arrays
        client.call("classify", Image.new("L", (1, 1)))
    with pytest.raises(UnknownAPI, match="no API named 'nope'"):
        client.call("nope", 1)
    with pytest.raises(AttributeError):
        client.nope  # noqa: B018


def test_a_503_with_retry_after_is_retried_within_the_deadline(http: TestClient) -> None:
    client = SyncClient("http://testserver", http=http, timeout=30)
    assert client.flaky({}) == {"attempts": 2}
    http.app.service.state["attempts"] = 0  # type: ignore[attr-defined]
    impatient = SyncClient("http://testserver", http=http, timeout=2)
    with pytest.raises(Unavailable) as info:  # waiting 5 s would pass the deadline: the 503 is the answer
        impatient.flaky({"retry_after": "5"})
    assert info.value.retry_after == 5.0 and info.value.status_code == 503
    http.app.service.state["attempts"] = 0  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        SyncClient("http://testserver", http=http, retry=False).flaky({})


def test_class_style_keyword_arguments_are_json_fields() -> None:
    @service
    class Calc:
        @api
        def add(self, a: int, b: int = 10) -> int:
            return a + b

    with TestClient(Calc.to_asgi()) as http:
        client = SyncClient("http://testserver", http=http)
        assert client.add(a=1, b=2) == 3
        assert client.add(a=1) == 11
        with pytest.raises(BadInput):
            client.add(a="one")


def test_not_a_tiffin_server() -> None:
    def plain(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    with pytest.raises(NotATiffinServer, match="answered 404"):
        SyncClient("http://elsewhere", http=httpx.Client(transport=httpx.MockTransport(plain)))


def asgi_http(svc: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.to_asgi()), base_url="http://asgi")


def test_async_client_reads_the_table_on_entry_or_first_call() -> None:
    async def main() -> None:
        async with AsyncClient("http://asgi", http=asgi_http(demo_service())) as client:
            assert (await client.classify(np.array([1, 2]))).tolist() == [2, 4]
            assert await client.call("shout", "a") == "A"
            results = await asyncio.gather(*(client.echo_json_sync({"i": i}) for i in range(5)))
            assert results == [{"i": i} for i in range(5)]
            assert (await client.health()).status_code == 200
        lazy = AsyncClient("http://asgi", http=asgi_http(demo_service()))
        assert await lazy.shout("first") == "FIRST"  # the table is read by the first call
        with pytest.raises(UnknownAPI):
            await lazy.call("missing")
        with pytest.raises(AttributeError):
            lazy.missing  # noqa: B018
        loaded = await AsyncHTTPClient.from_url("http://asgi", http=asgi_http(demo_service()))
        with pytest.raises(BadInput):
            await loaded.classify(b"[[1,")

    asyncio.run(main())


def test_bentoml_names_and_shapes() -> None:
    assert (HTTPClient, SyncHTTPClient, AsyncHTTPClient) == (Client, SyncClient, AsyncClient)
    with TestClient(demo_service().to_asgi()) as http:
        sync = SyncHTTPClient.from_url("http://testserver", http=http)
        assert sync.echo_json_sync({"test": "json"}) == {"test": "json"}
        both = Client.from_url("http://testserver", kind="http", http=http)
        with pytest.raises(ValueError, match="HTTP only"):
            Client.from_url("http://testserver", kind="grpc", http=http)
        assert both.echo_json_sync({"more_test": "and more json"}) == {"more_test": "and more json"}
        assert both.call("shout", "x") == "X"
        assert both.call("shout", inp="y") == "Y"  # BentoML's keyword for the one input
        assert both.health().status == 200
