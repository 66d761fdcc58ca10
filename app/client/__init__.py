"""A Python client for tiffin services: each API of the server becomes a method.

    from app.client import SyncClient, AsyncClient

    with SyncClient("http://127.0.0.1:3000") as client:
        client.classify(np.array([[5.9, 3.0, 5.1, 1.8]]))      # -> np.ndarray
        client.summarize(text="...")                           # JSON fields as keyword arguments
        client.compare(original=img1, compared=img2)           # multipart parts as keyword arguments

    async with AsyncClient("http://127.0.0.1:3000") as client:
        await client.classify(arr)

What is sent and what comes back follows the content types ``/docs.json`` documents
(``app.client.codec``): arrays, DataFrames, images (with Pillow), files, text and JSON. Each call
has a deadline (``timeout``, 60 s) and a 503 with ``Retry-After`` is tried again within it;
failures are the exceptions of ``app.client.errors``, carrying the server's JSON error.

BentoML's names work too: ``Client``/``HTTPClient`` (sync methods plus ``async_<api>``),
``SyncHTTPClient``, ``AsyncHTTPClient``, ``from_url``, ``call``, ``health``,
``wait_until_server_ready``.

The client sends with httpx, the ``client`` extra: ``pip install 'tiffin[client]'``.
"""

from app.client.aio import AsyncClient
from app.client.both import Client
from app.client.calls import Health
from app.client.errors import (
    BadInput,
    ClientError,
    ConnectionFailed,
    DeadlineExceeded,
    InternalError,
    MethodNotAllowed,
    NotATiffinServer,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Timeout,
    Unavailable,
    UndecodableAnswer,
    UnknownAPI,
    UnsupportedMediaType,
)
from app.client.sync import SyncClient

HTTPClient = Client
SyncHTTPClient = SyncClient
AsyncHTTPClient = AsyncClient

__all__ = [
    "AsyncClient",
    "AsyncHTTPClient",
    "BadInput",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "DeadlineExceeded",
    "HTTPClient",
    "Health",
    "InternalError",
    "MethodNotAllowed",
    "NotATiffinServer",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "SyncClient",
    "SyncHTTPClient",
    "Timeout",
    "Unavailable",
    "UndecodableAnswer",
    "UnknownAPI",
    "UnsupportedMediaType",
]
