"""Swagger UI at ``/`` for the service's OpenAPI document, with every asset served by us.

The assets (``swagger-ui.css``, ``swagger-ui-bundle.js``, ``swagger-ui-standalone-preset.js``,
favicons) are swagger-ui's upstream ``dist`` files as shipped by the PyPI package
``swagger-ui-bundle-v2`` 5.31.0 (import name ``swagger_ui_bundle``, directory
``swagger_ui_bundle.swagger_ui_path``), which bundles swagger-ui 5.31.0; swagger-ui and the
package are both Apache-2.0. The older ``swagger-ui-bundle`` 1.1.0 ships swagger-ui 4.15.5,
which refuses to render OpenAPI 3.1 documents, so it will not do.

The index page and its start-up script are ours: the page carries the document's URL in a
data attribute (no inline script), the script turns off the online validator badge (which
would send the document to validator.swagger.io), and a Content-Security-Policy keeps the
page from loading or calling anything but this server.
"""

from __future__ import annotations

import html
from pathlib import Path

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "swagger_routes"]

ASSETS_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))
INIT_SCRIPT = "tiffin-swagger-init.js"

_INIT_JS = """\
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
  });
});
"""

_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="{static}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{static}/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="{static}/favicon-16x16.png" sizes="16x16">
  <style>body {{ margin: 0; background: #fafafa; }}</style>
</head>
<body>
  <div id="swagger-ui" data-url="{docs}"></div>
  <script src="{static}/swagger-ui-bundle.js" charset="utf-8"></script>
  <script src="{static}/swagger-ui-standalone-preset.js" charset="utf-8"></script>
  <script src="{static}/{init}" charset="utf-8"></script>
</body>
</html>
"""

# Swagger UI styles elements inline and draws icons from data: URLs; nothing leaves the origin.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)


def swagger_routes(
    docs_url: str = "/docs.json",
    static_prefix: str = "/static/swagger-ui",
    *,
    title: str = "API documentation",
) -> list[BaseRoute]:
    """``GET /`` (the page), its start-up script, and the assets under ``static_prefix``."""
    static_prefix = "/" + static_prefix.strip("/")

    async def index(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        page = _PAGE.format(
            title=html.escape(title),
            static=html.escape(root + static_prefix, quote=True),
            docs=html.escape(root + docs_url, quote=True),
            init=INIT_SCRIPT,
        )
        headers = {"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"}
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    async def init_script(request: Request) -> Response:
        return Response(_INIT_JS, media_type="text/javascript; charset=utf-8")

    return [
        Route("/", index, methods=["GET"], name="swagger_ui", include_in_schema=False),
        Route(f"{static_prefix}/{INIT_SCRIPT}", init_script, methods=["GET"], include_in_schema=False),
        Mount(static_prefix, app=StaticFiles(directory=ASSETS_DIR), name="swagger_ui_assets"),
    ]
