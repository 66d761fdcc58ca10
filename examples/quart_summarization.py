"""The Summarization service with a mounted Quart app (seed 002, "Quart", second example)."""

from __future__ import annotations

from quart import Quart
from summarizer import EXAMPLE_INPUT
from summarizer import load_pipeline as pipeline

from app import api, get_current_service, mount_asgi_app, service

# Create a Quart app instance
app = Quart(__name__)


@app.get("/hello")
async def hello_world():
    service = get_current_service()
    # Add other logic here if needed
    return f"Hello, {service.name}"


@service(
    resources={"cpu": "2"},
    traffic={"timeout": 10},
)
@mount_asgi_app(app, path="/v1")
class Summarization:
    def __init__(self) -> None:
        self.pipeline = pipeline()

    # Define a name attribute
    name = "MyService"

    # The original Service API endpoint for text summarization
    @api
    def summarize(self, text: str = EXAMPLE_INPUT) -> str:
        result = self.pipeline(text)
        return result[0]["summary_text"]
