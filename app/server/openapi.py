"""The OpenAPI 3.1 document of a service: its APIs, the infrastructure endpoints and the
routes of mounted apps that describe themselves (FastAPI), under their prefix.

Everything comes in as plain data (``ApiLike``, ``MountLike``), so this module knows nothing
of how services are built. Named components from different sources can clash; the later
one is renamed with a prefix and every reference to it rewritten.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from app.io.base import IODescriptor
from app.io.streams import openapi_stream_content
from runners.wire.probes import LIVENESS_PATHS, METRICS_PATH, READINESS_PATH

__all__ = ["DEFAULT_INFRA_PATHS", "ApiLike", "MountLike", "build_openapi"]

log = logging.getLogger(__name__)

_JSON = "application/json"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ApiLike(Protocol):
    name: str
    route: str
    input: IODescriptor
    output: IODescriptor
    doc: str | None


class MountLike(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def app(self) -> Any: ...


def _get(summary: str, ok: str, media_type: str = _JSON, unavailable: str | None = None) -> dict[str, Any]:
    schema = {"type": "string"} if media_type.startswith("text/") else {"type": "object"}
    responses: dict[str, Any] = {"200": {"description": ok, "content": {media_type: {"schema": schema}}}}
    if unavailable:
        responses["503"] = {"description": unavailable}
    return {"summary": summary, "responses": responses}


DEFAULT_INFRA_PATHS: dict[str, dict[str, Any]] = {
    **{path: _get("Liveness", "The process serves.") for path in LIVENESS_PATHS},
    READINESS_PATH: _get(
        "Readiness",
        "Every runner the service uses is ready.",
        unavailable="A runner is not ready yet, or the server is draining.",
    ),
    METRICS_PATH: _get("Prometheus metrics", "Metrics in the Prometheus text format.", "text/plain"),
}

_ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "properties": {
        "error": {"type": "string", "description": "What went wrong, in one sentence."},
        "detail": {"description": "What exactly was wrong, when known."},
    },
    "required": ["error"],
}

_ERRORS: dict[str, tuple[str, str]] = {
    "400": ("BadInput", "Malformed body, or a value that fails the declared dtype, shape or schema."),
    "413": ("PayloadTooLarge", "The body is larger than the server accepts."),
    "415": ("UnsupportedMediaType", "This API does not take the request's content type."),
    "500": ("InternalError", "The API's code failed."),
    "503": ("Unavailable", "Over capacity, or a runner is unreachable or overloaded; retry later."),
    "504": ("Timeout", "The request took longer than the server's timeout."),
}


def build_openapi(
    *,
    title: str,
    version: str,
    apis: Iterable[ApiLike],
    mounts: Iterable[MountLike],
    infra_paths: Mapping[str, str | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The document; ``infra_paths`` (path → summary or GET operation) replaces the defaults."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "tags": [
            {"name": "apis", "description": "Inference APIs of the service."},
            {"name": "infrastructure", "description": "Health, readiness and metrics."},
        ],
        "paths": {},
        "components": {"schemas": {"Error": copy.deepcopy(_ERROR_SCHEMA)}, "responses": _error_responses()},
    }
    for api in apis:
        _add_api(doc, api)
    _add_infra(doc, DEFAULT_INFRA_PATHS if infra_paths is None else infra_paths)
    for mount in mounts:
        sub = _mounted_openapi(mount)
        if sub is not None:
            _add_mounted(doc, sub, mount.path)
    return doc


def _error_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (name, description) in _ERRORS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status == "503":
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
            }
        responses[name] = response
    return responses


def _add_api(doc: dict[str, Any], api: ApiLike) -> None:
    request = _adopt(doc, api.input.openapi_request_body(), api.input.openapi_components(), api.name)
    response = _adopt(doc, api.output.openapi_responses(), api.output.openapi_components(), api.name)
    if getattr(api, "is_stream", False):
        response = openapi_stream_content(api.output, response)
    summary, _, description = (api.doc or "").strip().partition("\n")
    operation: dict[str, Any] = {
        "tags": ["apis"],
        "operationId": api.name,
        "summary": summary.strip() or api.name,
        "requestBody": {
            "required": not api.input.accepts_empty_body,
            "content": request,
            "x-tiffin-io": api.input.spec(),
        },
        "responses": {
            "200": {"description": "Successful Response", "content": response, "x-tiffin-io": api.output.spec()},
            **{status: {"$ref": f"#/components/responses/{name}"} for status, (name, _) in _ERRORS.items()},
        },
    }
    if description.strip():
        operation["description"] = description.strip()
    route = "/" + api.route.lstrip("/")
    doc["paths"].setdefault(route, {})["post"] = operation


def _adopt(doc: dict[str, Any], content: dict[str, Any], schemas: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Merge a descriptor's named schemas into the document; its content, refs rewritten."""
    renames = _merge_section(doc["components"].setdefault("schemas", {}), schemas, "schemas", prefix)
    adopted: dict[str, Any] = _rewrite_refs(content, "schemas", renames)
    return adopted


def _add_infra(doc: dict[str, Any], paths: Mapping[str, str | Mapping[str, Any]]) -> None:
    for path, spec in paths.items():
        operation: dict[str, Any] = {"summary": spec} if isinstance(spec, str) else copy.deepcopy(dict(spec))
        operation.setdefault("responses", {"200": {"description": "OK"}})
        operation.setdefault("operationId", "infra_" + re.sub(r"\W+", "_", path).strip("_"))
        operation["tags"] = ["infrastructure"]
        doc["paths"].setdefault(path, {}).setdefault("get", operation)


def _mounted_openapi(mount: MountLike) -> dict[str, Any] | None:
    """The mounted app's own document, if it makes one (FastAPI does; Flask and Quart do not)."""
    for candidate in (getattr(mount, "app", None), getattr(mount, "original", None)):
        make = getattr(candidate, "openapi", None)
        if not callable(make):
            continue
        try:
            sub = make()
        except Exception:
            log.warning(
                "The app mounted at %r failed to describe itself; it is left out of /docs.json.",
                mount.path,
                exc_info=True,
            )
            return None
        if isinstance(sub, dict) and isinstance(sub.get("paths"), dict):
            return copy.deepcopy(sub)
    return None


def _add_mounted(doc: dict[str, Any], sub: dict[str, Any], prefix: str) -> None:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", prefix).strip("_") or "mounted"
    components = sub.get("components") or {}
    for section, items in components.items():
        if isinstance(items, dict):
            renames = _merge_section(doc["components"].setdefault(section, {}), items, section, slug)
            sub = _rewrite_refs(sub, section, renames)
            if section == "securitySchemes":
                sub = _rename_security(sub, renames)
    taken = {op.get("operationId") for item in doc["paths"].values() for op in _operations(item)}
    for path, item in sub["paths"].items():
        if not isinstance(item, dict):
            continue
        target = doc["paths"].setdefault(_join(prefix, path), {})
        for key, value in item.items():
            if key in target:
                continue  # the service's own routes win over a mount's, as in routing
            if key in _METHODS and isinstance(value, dict):
                value = _adapt_operation(value, sub.get("security"), taken, slug)
            target[key] = value
    known = {tag.get("name") for tag in doc["tags"]}
    doc["tags"].extend(t for t in sub.get("tags") or [] if isinstance(t, dict) and t.get("name") not in known)


# What tiffin's middleware answers on any route, a mount's included, by status and component.
_MOUNT_ERRORS = {"500": "InternalError", "503": "Unavailable", "504": "Timeout"}
_MOUNT_PARSE_ERROR = {
    "description": "The body could not be parsed: FastAPI's own answer to a body that is not valid JSON.",
    "content": {_JSON: {"schema": {"type": "object", "properties": {"detail": {}}}}},
}


def _adapt_operation(op: dict[str, Any], security: Any, taken: set[Any], slug: str) -> dict[str, Any]:
    if security is not None and "security" not in op:
        op["security"] = security
    responses = op.setdefault("responses", {})
    if isinstance(responses, dict):
        errors = dict(_MOUNT_ERRORS)
        if "requestBody" in op:
            errors["413"] = "PayloadTooLarge"
            responses.setdefault("400", copy.deepcopy(_MOUNT_PARSE_ERROR))
        for status, name in sorted(errors.items()):
            responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
    if isinstance(op.get("parameters"), list):
        # A FastAPI route written as a method would show `self` as a query parameter.
        op["parameters"] = [p for p in op["parameters"] if not (isinstance(p, dict) and p.get("name") == "self")]
    operation_id = op.get("operationId")
    if operation_id is not None:
        if operation_id in taken:
            operation_id = _fresh(f"{slug}_{operation_id}", taken)
            op["operationId"] = operation_id
        taken.add(operation_id)
    return op


def _join(prefix: str, path: str) -> str:
    prefix = prefix.rstrip("/")
    return prefix + ("/" + path.lstrip("/") if path else "") or "/"


def _operations(item: Any) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return []
    return [op for key, op in item.items() if key in _METHODS and isinstance(op, dict)]


def _merge_section(target: dict[str, Any], incoming: Mapping[str, Any], section: str, prefix: str) -> dict[str, str]:
    """Add ``incoming`` to ``target``, renaming clashing names; returns old name → new name.

    A name is kept when its definition is the same as the one already there once its own
    references are rewritten, so renames are found until nothing more changes.
    """
    renames: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, value in incoming.items():
            if name in renames or name not in target:
                continue
            if _rewrite_refs(value, section, renames) != target[name]:
                taken = set(target) | set(incoming) | set(renames.values())
                renames[name] = _fresh(f"{prefix}_{name}", taken)
                changed = True
    for name, value in incoming.items():
        target.setdefault(renames.get(name, name), _rewrite_refs(value, section, renames))
    return renames


def _fresh(name: str, taken: set[Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _rewrite_refs(value: Any, section: str, renames: Mapping[str, str]) -> Any:
    """A copy of ``value`` whose ``$ref``s to renamed components point at the new names."""
    if not renames:
        return value
    anchor = f"#/components/{section}/"
    if isinstance(value, dict):
        out = {k: _rewrite_refs(v, section, renames) for k, v in value.items()}
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(anchor) and ref[len(anchor) :] in renames:
            out["$ref"] = anchor + renames[ref[len(anchor) :]]
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v, section, renames) for v in value]
    return value


def _rename_security(sub: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """Security requirements name their schemes by key, not by ``$ref``."""

    def rename(requirements: Any) -> Any:
        if not isinstance(requirements, list):
            return requirements
        return [{renames.get(k, k): v for k, v in r.items()} if isinstance(r, dict) else r for r in requirements]

    if renames:
        sub["security"] = rename(sub.get("security"))
        for item in sub["paths"].values():
            for op in _operations(item):
                if "security" in op:
                    op["security"] = rename(op["security"])
        if sub["security"] is None:
            del sub["security"]
    return sub
