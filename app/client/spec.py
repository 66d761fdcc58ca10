"""The server's APIs as its ``/docs.json`` describes them: names, routes and content types.

The client is driven by the media types each operation documents, never by descriptor
classes, so it serves any descriptor the server has (and a server newer than the client):
an operation tagged ``apis`` (or BentoML's ``Service APIs``) is an API named by its
``operationId``; its request body's media types say what the client may send, its 200
answer's media types what it may ask for, and a ``multipart/form-data`` body's properties
(with ``encoding.<part>.contentType``) the parts it takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.client.errors import NotATiffinServer

__all__ = ["Endpoint", "MULTIPART", "endpoints"]

MULTIPART = "multipart/form-data"
_API_TAGS = ("apis", "Service APIs")


@dataclass(frozen=True)
class Endpoint:
    name: str
    route: str
    accepts: tuple[str, ...]
    """Request media types, in the document's order."""
    answers: tuple[str, ...]
    """Media types of a successful answer, in the document's order."""
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """For a multipart body: each part's name and the media types it takes (empty: any)."""
    fields: tuple[str, ...] = ()
    """For a JSON object body: its property names (the keyword arguments of a class-style API)."""
    doc: str | None = None

    def takes(self, media_type: str) -> bool:
        return _matches(media_type, self.accepts)


def endpoints(document: Any, source: str) -> dict[str, Endpoint]:
    """The APIs of an OpenAPI document, by name; ``NotATiffinServer`` if it is not one."""
    if not isinstance(document, Mapping) or not isinstance(document.get("paths"), Mapping):
        raise NotATiffinServer(f"{source} is not an OpenAPI document (no 'paths').")
    components = document.get("components") or {}
    found: dict[str, Endpoint] = {}
    for route, item in document["paths"].items():
        operation = item.get("post") if isinstance(item, Mapping) else None
        if not isinstance(operation, Mapping) or not set(operation.get("tags") or ()) & set(_API_TAGS):
            continue
        name = operation.get("operationId") or operation.get("x-bentoml-name") or route.strip("/").replace("/", "_")
        request = ((operation.get("requestBody") or {}).get("content")) or {}
        answer = (((operation.get("responses") or {}).get("200") or {}).get("content")) or {}
        multipart = request.get(MULTIPART) or {}
        json_schema = _resolve((request.get("application/json") or {}).get("schema") or {}, components)
        found[name] = Endpoint(
            name=name,
            route=route,
            accepts=tuple(request),
            answers=tuple(answer),
            parts=_parts(multipart, components) if multipart else {},
            fields=tuple(json_schema.get("properties") or ()) if json_schema.get("type") == "object" else (),
            doc=operation.get("description") or operation.get("summary"),
        )
    return found


def _parts(content: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    schema = _resolve(content.get("schema") or {}, components)
    encoding = content.get("encoding") or {}
    parts: dict[str, tuple[str, ...]] = {}
    for name, prop in (schema.get("properties") or {}).items():
        declared = (encoding.get(name) or {}).get("contentType")
        if declared:
            parts[name] = tuple(t.strip() for t in str(declared).split(",") if t.strip())
        elif isinstance(prop, Mapping) and prop.get("contentMediaType"):
            parts[name] = (str(prop["contentMediaType"]),)
        else:
            parts[name] = ()
    return parts


def _resolve(schema: Any, components: Mapping[str, Any]) -> dict[str, Any]:
    """A schema with a top-level ``$ref`` to ``#/components/schemas/...`` followed."""
    for _ in range(8):
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
            break
        schema = (components.get("schemas") or {}).get(ref.rsplit("/", 1)[-1], {})
    return dict(schema) if isinstance(schema, Mapping) else {}


def _matches(media_type: str, accepted: tuple[str, ...]) -> bool:
    major = media_type.split("/", 1)[0]
    return any(a in ("*/*", media_type) or (a.endswith("/*") and a[:-2] == major) for a in accepted)
