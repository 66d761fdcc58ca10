from __future__ import annotations

from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.testclient import TestClient

from app import api, get_current_service, mount_asgi_app, service


def test_api_method_takes_annotated_parameters_as_json_fields() -> None:
    @service
    class Calc:
        @api
        def add(self, a: int, b: int = 10) -> int:
            return a + b

    with TestClient(Calc.to_asgi()) as client:
        assert client.post("/add", json={"a": 1, "b": 2}).json() == 3
        assert client.post("/add", json={"a": 1}).json() == 11
        bad = client.post("/add", json={"a": "one"})
        assert bad.status_code == 400
        assert bad.json()["error"]
        missing = client.post("/add", json={})
        assert missing.status_code == 400
        assert client.post("/add", json={"a": 5}).json() == 15


def test_defaults_allow_an_empty_body_and_str_answers_text() -> None:
    @service(traffic={"timeout": 10})
    class Echo:
        @api
        def say(self, text: str = "hi") -> str:
            return text.upper()

    with TestClient(Echo.to_asgi()) as client:
        response = client.post("/say")
        assert response.status_code == 200
        assert response.text == "HI"
        assert response.headers["content-type"].startswith("text/plain")
        assert client.post("/say", json={"text": "yo"}).text == "YO"


class Out(BaseModel):
    total: float
    items: list[int]


def test_return_value_encoded_by_annotation() -> None:
    @service
    class Shop:
        @api(route="/v2/basket")
        async def basket(self, items: list[int]) -> Out:
            return Out(total=sum(items) * 1.5, items=items)

    with TestClient(Shop.to_asgi()) as client:
        assert client.post("/v2/basket", json={"items": [1, 2]}).json() == {"total": 4.5, "items": [1, 2]}
        assert client.post("/basket", json={"items": [1]}).status_code == 404


def test_instance_is_created_once_and_is_the_current_service() -> None:
    created: list[object] = []
    fastapi_app = FastAPI()

    @service
    @mount_asgi_app(fastapi_app, path="/v1")
    class Counter:
        name = "Counter"

        def __init__(self) -> None:
            created.append(self)
            self.hits = 0

        @api
        def hit(self) -> int:
            self.hits += 1
            return self.hits

        @fastapi_app.get("/inside")
        def inside(self, times: int = 1) -> str:
            return f"{self.name} {self.hits * times}"

    @fastapi_app.get("/outside")
    async def outside(svc: Counter = Depends(get_current_service)) -> str:
        return f"{svc.name} {svc.hits}"

    with TestClient(Counter.to_asgi()) as client:
        assert client.post("/hit").json() == 1
        assert client.post("/hit").json() == 2
        assert client.get("/v1/inside", params={"times": 3}).json() == "Counter 6"
        assert client.get("/v1/outside").json() == "Counter 2"
        assert len(created) == 1
        assert get_current_service() is created[0]


def test_fastapi_route_in_class_body_has_no_self_parameter_in_docs() -> None:
    fastapi_app = FastAPI()

    @service
    @mount_asgi_app(fastapi_app, path="/v1")
    class Svc:
        @fastapi_app.get("/hello")
        def hello(self, who: str = "you") -> str:
            return f"hello {who}"

    with TestClient(Svc.to_asgi()) as client:
        doc = client.get("/docs.json").json()
        params = doc["paths"]["/v1/hello"]["get"].get("parameters", [])
        assert [p["name"] for p in params] == ["who"]
        assert client.get("/v1/hello?who=me").json() == "hello me"


def test_mount_decorator_order_does_not_matter() -> None:
    inner = FastAPI()

    @inner.get("/ping")
    def ping() -> str:
        return "pong"

    @mount_asgi_app(inner, path="/x")
    @service
    class Svc:
        pass

    with TestClient(Svc.to_asgi()) as client:
        assert client.get("/x/ping").json() == "pong"


def test_unknown_traffic_option_is_refused() -> None:
    import pytest

    with pytest.raises(TypeError, match="traffic"):

        @service(traffic={"timeuot": 3})
        class Svc:
            pass
