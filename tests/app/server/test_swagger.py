from __future__ import annotations

import re
from html.parser import HTMLParser

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from app.server.swagger import ASSETS_DIR, swagger_routes


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.docs_url: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("href", "src"):
            if found.get(name):
                self.urls.append(found[name])
        if found.get("id") == "swagger-ui":
            self.docs_url = found.get("data-url")


def make_app() -> Starlette:
    async def docs(request):
        return JSONResponse({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}})

    return Starlette(routes=[Route("/docs.json", docs), *swagger_routes()])


def page_refs(client: TestClient, path: str = "/") -> _Refs:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    refs = _Refs()
    refs.feed(response.text)
    return refs


def test_page_refers_only_to_same_origin_assets_that_are_served():
    client = TestClient(make_app())
    refs = page_refs(client)
    assert len(refs.urls) == 6
    for url in refs.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content
    assert {u.rsplit("/", 1)[1] for u in refs.urls} >= {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    assert refs.docs_url == "/docs.json"
    assert client.get(refs.docs_url).json()["openapi"] == "3.1.0"


def test_page_forbids_other_origins_and_the_online_validator():
    client = TestClient(make_app())
    response = client.get("/")
    assert not re.search(r"https?://", response.text)
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "connect-src 'self'" in response.headers["content-security-policy"]
    init = client.get("/static/swagger-ui/tiffin-swagger-init.js")
    assert init.headers["content-type"].startswith("text/javascript")
    assert "validatorUrl: null" in init.text
    assert "root.dataset.url" in init.text
    assert not re.search(r"https?://", init.text)


def test_urls_respect_root_path():
    client = TestClient(make_app(), root_path="/gateway")
    refs = page_refs(client)
    assert refs.docs_url == "/gateway/docs.json"
    for url in refs.urls:
        assert url.startswith("/gateway/static/swagger-ui/")
        assert client.get(url).status_code == 200


def test_custom_prefix_and_docs_url():
    app = Starlette(routes=swagger_routes(docs_url="/openapi.json", static_prefix="assets/ui/"))
    client = TestClient(app)
    refs = page_refs(client)
    assert refs.docs_url == "/openapi.json"
    for url in refs.urls:
        assert url.startswith("/assets/ui/")
        assert client.get(url).status_code == 200


def test_assets_are_swagger_ui_5_which_renders_openapi_3_1():
    assert ASSETS_DIR.name.startswith("swagger-ui-5.")
    assert (ASSETS_DIR / "swagger-ui-bundle.js").is_file()
