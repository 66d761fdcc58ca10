"""The IO descriptor contract and the content-type checks every descriptor shares.

A descriptor turns an HTTP request body into the value an API function receives, and the
function's return value into a response. Bad input raises ``BadInput`` (400),
``UnsupportedMediaType`` (415) or ``PayloadTooLarge`` (413) and nothing else, so clients always
get a JSON error. A return value the descriptor does not allow raises ``BadOutput`` (500): an
output descriptor enforces what it declares, as an input descriptor does.

``Descriptor.from_sample(sample, **options)`` builds a descriptor from an example value: what the
sample fixes (dtype, shape, columns, image format) is taken from it unless given in ``options``,
and the sample is the example of the API in the OpenAPI document.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Self

from starlette.requests import Request
from starlette.responses import Response

from app.server.http_errors import BadInput, BadOutput, ServiceError, UnsupportedMediaType
from runners.wire.protocol import media_type as media_type_of  # one rule for both sides of the hop

__all__ = ["IODescriptor", "as_output_error", "check_encoding", "media_type_of", "negotiate", "read_body"]

# Set while ``from_sample`` builds a descriptor: options that need one another are checked once
# the sample has filled in what it fixes (``PandasDataFrame.from_sample(df, enforce_dtype=True)``).
_SAMPLING: ContextVar[bool] = ContextVar("tiffin_io_sampling", default=False)


class IODescriptor(ABC):
    """Decodes one kind of request body and encodes one kind of response."""

    #: Request content types this descriptor takes; the first is the one documented first.
    media_types: tuple[str, ...] = ()
    #: Whether a request without a Content-Type header is read as ``media_types[0]``.
    default_when_missing: bool = True
    #: Whether the decoded input is a mapping of the API function's keyword arguments.
    as_kwargs: bool = False
    #: Whether a request with no body is valid input (documented as ``requestBody.required``).
    accepts_empty_body: bool = False
    _sample: Any = None

    @classmethod
    def from_sample(cls, sample: Any, **options: Any) -> Self:
        """A descriptor made with ``options``, completed from ``sample``, which is its example."""
        token = _SAMPLING.set(True)
        try:
            descriptor = cls(**options)
        finally:
            _SAMPLING.reset(token)
        descriptor._sample = descriptor._take_sample(sample, set(options))
        descriptor._check_options()
        return descriptor

    def _check_options(self) -> None:
        """Raise ValueError for options that need one another (``enforce_shape`` without ``shape``)."""
        return None

    def _options_given(self) -> None:
        """The end of ``__init__``: check the options now, or after ``from_sample`` took its sample."""
        if not _SAMPLING.get():
            self._check_options()

    @property
    def sample(self) -> Any:
        """The value given to ``from_sample``, normalised (``None`` without one)."""
        return self._sample

    def _take_sample(self, sample: Any, given: set[str]) -> Any:
        """Fix from ``sample`` what the options in ``given`` left open; the sample, normalised."""
        return sample

    def openapi_example(self) -> Any:
        """The sample as it travels in the documented JSON or text body; ``None`` for none."""
        return None

    def spec(self) -> dict[str, Any]:
        """What a client needs to encode inputs and decode answers, as JSON: ``{"type": ..., options}``.

        The keys are those of the YAML ``apis[].input``/``output`` of the same type; the OpenAPI
        document carries it as ``x-tiffin-io`` on each API's request body and answer.
        """
        return {"type": type(self).__name__}

    def _with_example(self, content: dict[str, Any], media_type: str) -> dict[str, Any]:
        """``content`` with the sample as the example of ``media_type``'s entry, if there is one."""
        example = self.openapi_example()
        if example is not None and media_type in content:
            content[media_type] = {**content[media_type], "example": example}
        return content

    @abstractmethod
    async def from_request(self, request: Request) -> Any:
        """Read and decode the body; raise BadInput or UnsupportedMediaType on bad input."""

    @abstractmethod
    def to_response(self, value: Any, *, accept: str | None = None) -> Response:
        """Encode a return value; ``accept`` is the request's Accept header, if any."""

    @abstractmethod
    def openapi_request_body(self) -> dict[str, Any]:
        """The OpenAPI 3.1 ``content`` object of the request body."""

    @abstractmethod
    def openapi_responses(self) -> dict[str, Any]:
        """The OpenAPI 3.1 ``content`` object of a successful response."""

    def openapi_components(self) -> dict[str, dict[str, Any]]:
        """Named schemas (``components.schemas``) that the content objects refer to."""
        return {}

    def check_media_type(self, request: Request) -> str:
        """The request's media type if this descriptor takes it, else 415."""
        check_encoding(request)
        return self.check_content_type(request.headers.get("content-type"))

    def check_content_type(self, header: str | None) -> str:
        """The media type of a Content-Type header if this descriptor takes it, else 415."""
        media_type = media_type_of(header)
        if not media_type and self.default_when_missing and self.media_types:
            return self.media_types[0]
        if _matches_any(media_type, self.media_types):
            return media_type
        raise UnsupportedMediaType(
            f"This API does not accept content type {media_type or '(none)'!r}.",
            detail={"content_type": media_type or None, "accepted": list(self.media_types)},
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


@contextmanager
def as_output_error() -> Iterator[None]:
    """Run an input check on a return value: what it refuses is the API's fault (500), not the client's."""
    try:
        yield
    except BadInput as exc:
        raise BadOutput(exc.message, detail=exc.detail) from exc


def check_encoding(request: Request) -> None:
    """415 for a body in a content coding (gzip, br, ...): descriptors read the bytes as they came,
    and reading a compressed body as if it were not would answer garbage, or a decoded bomb."""
    coding = request.headers.get("content-encoding", "").strip().lower()
    if coding and coding != "identity":
        raise UnsupportedMediaType(
            f"This API does not accept content encoding {coding!r}; send the body uncompressed.",
            detail={"content_encoding": coding, "accepted": ["identity"]},
        )


async def read_body(request: Request) -> bytes:
    """The whole body; a client that goes away mid-body is bad input, not a server error."""
    check_encoding(request)
    try:
        return await request.body()
    except ServiceError:  # e.g. PayloadTooLarge from the body-size limit
        raise
    except Exception as exc:  # ClientDisconnect, malformed chunked encoding, ...
        raise BadInput("The request body could not be read.", detail=str(exc)) from exc


def header_param(header: str | None, name: str) -> str | None:
    """A parameter of a Content-Type header, e.g. ``charset``."""
    if not header:
        return None
    for part in header.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"') or None
    return None


def negotiate(accept: str | None, offered: tuple[str, ...]) -> str:
    """The offered media type the Accept header prefers; ties and no match go to ``offered[0]``."""
    default = offered[0]
    if not accept:
        return default
    best, best_q = default, -1.0
    for item in accept.split(","):
        media_type = media_type_of(item)
        q = _quality(item)
        for rank, candidate in enumerate(offered):
            if q <= 0 or not _matches(candidate, media_type):
                continue
            # An explicit type beats a wildcard of equal quality; earlier offers beat later ones.
            score = q + (0.0001 if "*" not in media_type else 0.0) - rank * 0.00001
            if score > best_q:
                best, best_q = candidate, score
    return best


def _quality(item: str) -> float:
    raw = header_param(item, "q")
    try:
        return float(raw) if raw is not None else 1.0
    except ValueError:
        return 0.0


def _matches(media_type: str, pattern: str) -> bool:
    """Whether ``media_type`` fits ``pattern``, which may be ``*/*`` or ``type/*``."""
    if pattern in ("*/*", media_type):
        return True
    if pattern.endswith("/*"):
        return media_type.split("/", 1)[0] == pattern[:-2]
    return False


def _matches_any(media_type: str, accepted: tuple[str, ...]) -> bool:
    if not media_type:
        return False
    if any(_matches(media_type, pattern) for pattern in accepted):
        return True
    # application/vnd.example+json is JSON too.
    return "application/json" in accepted and media_type.endswith("+json")
