"""``Context`` in-process: what an API reads of the request and sets on its answer."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from app import Context, Cookie, Service, api, service
from app.io import JSON, NumpyNdarray, Text


def context_service() -> Service:
    svc = Service("ctx")

    @svc.api(input=Text(), output=Text())
    async def use_context(inp: str, ctx: Context) -> str:  # BentoML's e2e API, as it is written there
        if "error" in ctx.request.query_params:
            ctx.response.status_code = 400
            return ctx.request.query_params["error"]
        return inp

    @svc.api(input=JSON(), output=JSON())
    def seen(body: dict, ctx: Context) -> dict:  # sync: runs in a worker thread with its own context
        request = ctx.request
        return {
            "agent": request.headers.get("x-agent"),
            "query": dict(request.query_params),
            "cookies": dict(request.cookies),
            "client": ctx.client_address,
            "request_id": ctx.request_id,
            "state": ctx.state.get("greeting"),
        }

    @svc.api(input=Text(), output=Text())
    def answer_with(text: str, c) -> str:  # noqa: ANN001 - BentoML's rule: an unannotated second parameter is the context
        c.response.status_code = 201
        c.response.headers["x-model"] = "v2"
        c.response.headers.append("x-tag", "a")
        c.response.headers.append("x-tag", "b")
        c.response.headers["content-type"] = "text/x-shout; charset=utf-8"
        c.response.headers["content-length"] = "1"  # ignored: the body says how long it is
        c.response.set_cookie("session", "s1", max_age=60, httponly=True)
        c.response.cookies.append(Cookie("theme", "dark", path="/ui", samesite="strict"))
        return text.upper()

    @svc.api(input=NumpyNdarray(), output=NumpyNdarray())
    def fails_after_setting(x, context):  # noqa: ANN001, ANN201
        context.response.status_code = 299
        context.response.headers["x-leak"] = "no"
        raise RuntimeError("boom")

    @svc.on_startup
    def greet(ctx: Context) -> None:
        ctx.state["greeting"] = "hello from startup"

    return svc


def test_bentoml_use_context_sets_the_status_from_a_query_parameter() -> None:
    with TestClient(context_service().to_asgi()) as client:
        failed = client.post("/use_context?error=yes")  # as BentoML's e2e test sends it: no body, no type
        assert failed.status_code == 400
        assert failed.content == b"yes"
        ok = client.post("/use_context", content="hi", headers={"content-type": "text/plain"})
        assert ok.status_code == 200 and ok.text == "hi"


def test_the_api_reads_headers_query_cookies_client_request_id_and_state() -> None:
    with TestClient(context_service().to_asgi()) as client:
        client.cookies.set("flavour", "mint")
        response = client.post(
            "/seen?lang=en&x=1", json={}, headers={"x-agent": "probe", "x-request-id": "rid-7"}
        )
    assert response.status_code == 200
    assert response.json() == {
        "agent": "probe",
        "query": {"lang": "en", "x": "1"},
        "cookies": {"flavour": "mint"},
        "client": "testclient",
        "request_id": "rid-7",
        "state": "hello from startup",
    }


def test_status_headers_and_cookies_set_on_ctx_response_reach_the_client() -> None:
    with TestClient(context_service().to_asgi()) as client:
        response = client.post("/answer_with", content="hey", headers={"content-type": "text/plain"})
    assert response.status_code == 201
    assert response.text == "HEY"
    assert response.headers["x-model"] == "v2"
    assert response.headers.get_list("x-tag") == ["a", "b"]
    assert response.headers.get_list("content-type") == ["text/x-shout; charset=utf-8"]
    assert response.headers["x-request-id"]
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("session=s1;") and "HttpOnly" in c and "Max-Age=60" in c for c in cookies)
    assert any(c.startswith("theme=dark;") and "Path=/ui" in c and "SameSite=strict" in c for c in cookies)


def test_an_error_answer_ignores_what_the_api_set_on_ctx_response() -> None:
    with TestClient(context_service().to_asgi()) as client:
        response = client.post("/fails_after_setting", json=[1])
    assert response.status_code == 500
    assert "x-leak" not in response.headers
    assert response.json()["error"]


def test_each_request_gets_its_own_response_context() -> None:
    with TestClient(context_service().to_asgi()) as client:
        first = client.post("/use_context?error=1", content="", headers={"content-type": "text/plain"})
        second = client.post("/use_context", content="ok", headers={"content-type": "text/plain"})
    assert (first.status_code, second.status_code) == (400, 200)


def test_class_style_api_takes_ctx_beside_its_json_fields() -> None:
    @service
    class Greeter:
        def __init__(self) -> None:
            self.calls = 0

        @api
        def hello(self, name: str, ctx: Context, punctuation: str = "!") -> str:
            self.calls += 1
            ctx.response.headers["x-calls"] = str(self.calls)
            ctx.response.status_code = 202
            return f"hello {name}{punctuation} ({ctx.request.headers.get('x-from')})"

        @api(input=Text(), output=Text())
        async def shout(self, text: str, context: Context) -> str:
            context.response.set_cookie("shouted", "1")
            return text.upper()

    with TestClient(Greeter.to_asgi()) as client:
        response = client.post("/hello", json={"name": "ada"}, headers={"x-from": "test"})
        assert response.status_code == 202
        assert response.text == "hello ada! (test)"
        assert response.headers["x-calls"] == "1"
        assert client.post("/hello", json={"name": "ada", "ctx": 1}).status_code == 400  # not a JSON field
        shouted = client.post("/shout", content="hey", headers={"content-type": "text/plain"})
        assert shouted.text == "HEY" and "shouted=1" in shouted.headers["set-cookie"]
        schema = client.get("/docs.json").json()
    body = schema["paths"]["/hello"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fields = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]["properties"] if "$ref" in body else body[
        "properties"
    ]
    assert set(fields) == {"name", "punctuation"}


def test_a_hook_context_has_no_request() -> None:
    ctx = Context({})
    with pytest.raises(RuntimeError, match="no request"):
        ctx.request  # noqa: B018
    assert ctx.request_id is None and ctx.client_address is None
