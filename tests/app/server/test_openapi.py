# No `from __future__ import annotations` here: FastAPI resolves string annotations against
# module globals, and the clash test needs its local models.

from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from pydantic import BaseModel
from quart import Quart

from app.io import JSON, NumpyNdarray, Text
from app.io.annotations import JSONBody, descriptor_for_annotation, json_body_model
from app.io.base import IODescriptor
from app.server.openapi import build_openapi

openapi_spec_validator = pytest.importorskip("openapi_spec_validator")


@dataclass
class Api:
    name: str
    route: str
    input: IODescriptor
    output: IODescriptor
    doc: str | None = None


@dataclass
class Mount:
    path: str
    app: Any


class Item(BaseModel):
    name: str
    price: float


class Features(BaseModel):
    sepal_len: float
    sepal_width: float


def classify(features: list[float], top_k: int = 1) -> dict[str, float]:
    return {}


def build(apis=(), mounts=(), **kwargs) -> dict[str, Any]:
    doc = build_openapi(title="iris_classifier", version="1.0.0", apis=list(apis), mounts=list(mounts), **kwargs)
    orjson.dumps(doc)  # plain JSON data
    openapi_spec_validator.validate(doc)
    return doc


def test_apis_become_post_operations():
    doc = build(
        [
            Api(
                "classify",
                "/classify",
                NumpyNdarray(dtype="float64", shape=(-1, 4)),
                NumpyNdarray(),
                doc="Classify irises.\n\nTakes rows of four features.",
            ),
            Api("any_func_name", "v1/models/iris_classifier/predict", JSON(pydantic_model=Features), Text()),
        ]
    )
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "iris_classifier", "version": "1.0.0"}
    op = doc["paths"]["/classify"]["post"]
    assert op["operationId"] == "classify"
    assert op["summary"] == "Classify irises."
    assert op["description"] == "Takes rows of four features."
    assert set(op["requestBody"]["content"]) == {"application/json", "application/x-npy"}
    assert set(op["responses"]) == {"200", "400", "413", "415", "500", "503", "504"}
    assert op["responses"]["400"] == {"$ref": "#/components/responses/BadInput"}
    error = doc["components"]["responses"]["BadInput"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    assert "Retry-After" in doc["components"]["responses"]["Unavailable"]["headers"]

    predict = doc["paths"]["/v1/models/iris_classifier/predict"]["post"]
    assert predict["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Features"}
    assert "Features" in doc["components"]["schemas"]


def test_class_style_api_documents_its_fields_and_defaults():
    output = descriptor_for_annotation(dict[str, float])
    doc = build([Api("classify", "/classify", JSONBody(json_body_model(classify)), output)])
    schema = doc["components"]["schemas"]["ClassifyInput"]
    assert schema["properties"]["top_k"]["default"] == 1
    assert schema["required"] == ["features"]


def test_infrastructure_endpoints_are_tagged():
    doc = build()
    for path in ("/livez", "/healthz", "/readyz", "/metrics"):
        assert doc["paths"][path]["get"]["tags"] == ["infrastructure"]
    assert "503" in doc["paths"]["/readyz"]["get"]["responses"]
    custom = build(infra_paths={"/ping": "Ping"})
    assert "/livez" not in custom["paths"]
    assert custom["paths"]["/ping"]["get"]["summary"] == "Ping"


def test_fastapi_mount_paths_are_prefixed():
    fastapi_app = FastAPI()

    @fastapi_app.get("/hello")
    def hello() -> str:
        return "hi"

    @fastapi_app.post("/items")
    def create(item: Item) -> Item:
        return item

    doc = build(mounts=[Mount("/v1", fastapi_app)])
    assert doc["paths"]["/v1/hello"]["get"]["responses"]["200"]
    assert "/hello" not in doc["paths"]
    body = doc["paths"]["/v1/items"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Item"}
    assert doc["components"]["schemas"]["Item"]["required"] == ["name", "price"]
    assert "HTTPValidationError" in doc["components"]["schemas"]


@pytest.mark.parametrize("prefix", ["/", ""])
def test_root_mount_keeps_paths_and_never_hides_service_routes(prefix):
    fastapi_app = FastAPI()

    @fastapi_app.get("/metadata")
    def metadata() -> dict[str, str]:
        return {}

    @fastapi_app.get("/classify")
    def fake_get() -> str:
        return ""

    @fastapi_app.post("/classify", operation_id="classify")
    def fake_post() -> str:
        return ""

    doc = build([Api("classify", "/classify", NumpyNdarray(), NumpyNdarray())], [Mount(prefix, fastapi_app)])
    assert "/metadata" in doc["paths"]
    assert doc["paths"]["/classify"]["post"]["operationId"] == "classify"
    assert doc["paths"]["/classify"]["post"]["tags"] == ["apis"]
    assert "get" in doc["paths"]["/classify"]


def test_operation_ids_stay_unique():
    fastapi_app = FastAPI()

    @fastapi_app.post("/classify2", operation_id="classify")
    def other() -> str:
        return ""

    doc = build([Api("classify", "/classify", NumpyNdarray(), NumpyNdarray())], [Mount("/v1", fastapi_app)])
    assert doc["paths"]["/v1/classify2"]["post"]["operationId"] == "v1_classify"


def test_clashing_component_is_renamed_and_refs_rewritten():
    class Inner(BaseModel):
        size: int

    class Item(BaseModel):  # same name as the service's Item, different schema
        sku: str
        inner: Inner

    fastapi_app = FastAPI()

    @fastapi_app.post("/items")
    def create(item: Item) -> list[Item]:
        return [item]

    same = FastAPI()

    @same.post("/features")
    def features(f: Features) -> Features:
        return f

    apis = [Api("add", "/add", JSON(pydantic_model=globals()["Item"]), JSON(pydantic_model=Features))]
    doc = build(apis, [Mount("/v1", fastapi_app), Mount("/v2", same)])
    schemas = doc["components"]["schemas"]
    assert schemas["Item"]["required"] == ["name", "price"]
    assert schemas["v1_Item"]["required"] == ["sku", "inner"]
    assert schemas["v1_Item"]["properties"]["inner"] == {"$ref": "#/components/schemas/Inner"}
    op = doc["paths"]["/v1/items"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/v1_Item"}
    out = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert out["items"] == {"$ref": "#/components/schemas/v1_Item"}
    # The service's own operations still point at the original.
    assert doc["paths"]["/add"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    # An identical schema under the same name is shared, not duplicated.
    assert "v2_Features" not in schemas
    assert doc["paths"]["/v2/features"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Features"
    }


def test_component_that_refers_to_a_renamed_one_is_renamed_too():
    from app.server.openapi import _merge_section

    target = {"Inner": {"type": "integer"}, "Outer": {"$ref": "#/components/schemas/Inner"}}
    incoming = {"Inner": {"type": "string"}, "Outer": {"$ref": "#/components/schemas/Inner"}}
    renames = _merge_section(target, incoming, "schemas", "v1")
    assert renames == {"Inner": "v1_Inner", "Outer": "v1_Outer"}
    assert target["v1_Outer"] == {"$ref": "#/components/schemas/v1_Inner"}


def test_mounts_without_openapi_are_skipped():
    flask_app, quart_app = Flask(__name__), Quart(__name__)

    @flask_app.route("/metadata")
    def metadata():
        return {}

    doc = build(mounts=[Mount("/flask", flask_app), Mount("/quart", quart_app), Mount("/raw", object())])
    assert not any(path.startswith(("/flask", "/quart")) for path in doc["paths"])


def test_fastapi_routes_with_self_and_dependencies_do_not_break_the_document():
    fastapi_app = FastAPI()

    class MyService:
        name = "MyService"

        @fastapi_app.get("/hello")
        def hello(self):
            return f"Hello {self.name}"

    def current() -> Any:
        return MyService()

    @fastapi_app.get("/hello1")
    async def hello1(service: Any = Depends(current)) -> str:
        return service.name

    doc = build(mounts=[Mount("/v1", fastapi_app)])
    assert "parameters" not in doc["paths"]["/v1/hello"]["get"] or all(
        p["name"] != "self" for p in doc["paths"]["/v1/hello"]["get"]["parameters"]
    )
    assert "/v1/hello1" in doc["paths"]


def test_a_mount_that_fails_to_describe_itself_is_left_out(caplog):
    class Broken:
        def openapi(self) -> dict[str, Any]:
            raise RuntimeError("no")

    doc = build(mounts=[Mount("/x", Broken())])
    assert not any(path.startswith("/x") for path in doc["paths"])
    assert "failed to describe itself" in caplog.text


def test_mounted_security_schemes_are_carried_over():
    from fastapi.security import HTTPBearer

    fastapi_app = FastAPI()
    bearer = HTTPBearer()

    @fastapi_app.get("/private")
    def private(token: Any = Depends(bearer)) -> str:
        return ""

    doc = build(mounts=[Mount("/v1", fastapi_app)])
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    assert doc["paths"]["/v1/private"]["get"]["security"] == [{"HTTPBearer": []}]


def optional_args(text: str = "hi", times: int = 1) -> str:
    return text


def test_request_body_is_optional_only_when_no_body_is_valid_input():
    # Found by schemathesis: POST /shout with no body answered 200 while the body was "required".
    doc = build(
        [
            Api("shout", "/shout", JSONBody(json_body_model(optional_args)), Text()),
            Api("classify", "/classify", JSONBody(json_body_model(classify)), Text()),
            Api("echo", "/echo", Text(), Text()),
            Api("rows", "/rows", NumpyNdarray(), NumpyNdarray()),
        ]
    )
    required = {path: doc["paths"][path]["post"]["requestBody"]["required"] for path in doc["paths"] if path[1:] in (
        "shout", "classify", "echo", "rows")}  # fmt: skip
    assert required == {"/shout": False, "/classify": True, "/echo": False, "/rows": True}


def test_mounted_operations_document_the_errors_tiffin_and_fastapi_answer():
    # Found by schemathesis: FastAPI answers 400 to a body that is not JSON, and tiffin's middleware
    # 500/503/504 (413 for a body) on a mount's routes too; the mount's own document lists 200, 422.
    fastapi_app = FastAPI()

    @fastapi_app.get("/hello")
    def hello() -> str:
        return "hi"

    @fastapi_app.post("/items")
    def create(item: Item) -> Item:
        return item

    doc = build(mounts=[Mount("/v1", fastapi_app)])
    posted = doc["paths"]["/v1/items"]["post"]["responses"]
    assert set(posted) == {"200", "400", "413", "422", "500", "503", "504"}
    assert posted["413"] == {"$ref": "#/components/responses/PayloadTooLarge"}
    assert posted["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/HTTPValidationError")
    assert set(doc["paths"]["/v1/hello"]["get"]["responses"]) == {"200", "500", "503", "504"}
