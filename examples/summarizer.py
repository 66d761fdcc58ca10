"""The summarization pipeline the seed's class-style examples use.

The seeds call ``transformers.pipeline("summarization")``. ``load_pipeline()`` is that pipeline,
loaded from the model store (``runners.transformers.load_model("summarizer:latest")``), where
``examples/make_summarizer.py`` put it: a tiny model built locally, or with ``--hub NAME`` a
downloaded one. With nothing stored it falls back to ``pipeline("summarization")`` itself, which
downloads Transformers' default summarization model (a machine with the network).
"""

from __future__ import annotations

from typing import Any

MODEL_NAME = "summarizer"


def load_pipeline() -> Any:
    import runners
    from runners.store.model_store import ModelNotFound

    try:
        return runners.transformers.load_model(f"{MODEL_NAME}:latest")
    except ModelNotFound:
        from transformers import pipeline

        return pipeline("summarization")


EXAMPLE_INPUT = (
    "Breaking News: In an astonishing turn of events, the small town of Willow Creek has been taken by storm "
    "as local resident Jerry Thompson's cat, Whiskers, performed what witnesses are calling a 'miraculous and "
    "gravity-defying leap.' Eyewitnesses report that Whiskers, an otherwise unremarkable tabby cat, jumped a "
    "record-breaking 20 feet into the air to catch a fly. The event, which took place in Thompson's backyard, "
    "is now being investigated by scientists for potential breaches in the laws of physics. Local authorities "
    "are considering a town festival to celebrate what is being hailed as 'The Leap of the Century."
)
