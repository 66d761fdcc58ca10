"""Custom ASGI middleware on a class-style service (seed 002, "Add custom ASGI middleware").

    curl -H "Host: example.com" localhost:3000/summarize -d '{}'   # served
    curl localhost:3000/summarize -d '{}'                          # 400 Invalid host header
"""

from __future__ import annotations

from starlette.middleware.trustedhost import TrustedHostMiddleware
from summarizer import load_pipeline as pipeline

from app import api, service


@service(
    resources={"cpu": "2"},
    traffic={"timeout": 10},
)
class Summarization:
    def __init__(self) -> None:
        self.pipeline = pipeline()

    @api
    def summarize(self, text: str) -> str:
        result = self.pipeline(text)
        return result[0]["summary_text"]


# Add TrustedHostMiddleware to ensure the Service only accepts requests from certain hosts
Summarization.add_asgi_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])
