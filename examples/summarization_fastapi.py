"""The Summarization service with FastAPI routes inside and outside the class (seed 002).

``pipeline`` is ``examples.summarizer.load_pipeline``: the seed's transformers pipeline when
``TIFFIN_SUMMARIZER=transformers``, a local extractive summarizer otherwise.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from summarizer import EXAMPLE_INPUT
from summarizer import load_pipeline as pipeline

from app import api, get_current_service, mount_asgi_app, service

# Create a FastAPI app instance
app = FastAPI()


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

    # Access the Service instance inside the class
    @app.get("/hello-inside")
    def hello(self):
        # Add other logic here if needed
        return f"Hello {self.name}. You can access the Service instance inside the class."


MyService = Summarization


# Access the Service instance outside the class
@app.get("/hello-outside")
async def hello(service: MyService = Depends(get_current_service)):
    # Add other logic here if needed
    return f"Hello {service.name}. You can access the Service instance outside the class."
