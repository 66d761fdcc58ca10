"""The summarization model the seed's class-style examples use.

The seeds call ``transformers.pipeline("summarization")``, which downloads a model from a hub.
``load_pipeline()`` does exactly that when ``TIFFIN_SUMMARIZER=transformers`` (and the weights
are cached); by default it returns a small extractive summarizer with the same call shape,
``pipeline(text) -> [{"summary_text": ...}]``, so the examples run on a machine with no hub.
"""

from __future__ import annotations

import os
import re
from typing import Any

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class ExtractiveSummarizer:
    """Keeps the leading sentences up to ``max_words`` words: news text front-loads its facts."""

    def __init__(self, max_words: int = 40) -> None:
        self.max_words = max_words

    def __call__(self, text: str) -> list[dict[str, Any]]:
        kept: list[str] = []
        words = 0
        for sentence in _SENTENCE.split(text.strip()):
            if kept and words + len(sentence.split()) > self.max_words:
                break
            kept.append(sentence)
            words += len(sentence.split())
        return [{"summary_text": " ".join(kept)}]


def load_pipeline() -> Any:
    if os.environ.get("TIFFIN_SUMMARIZER") == "transformers":
        from transformers import pipeline

        return pipeline("summarization")
    return ExtractiveSummarizer()


EXAMPLE_INPUT = (
    "Breaking News: In an astonishing turn of events, the small town of Willow Creek has been taken by storm "
    "as local resident Jerry Thompson's cat, Whiskers, performed what witnesses are calling a 'miraculous and "
    "gravity-defying leap.' Eyewitnesses report that Whiskers, an otherwise unremarkable tabby cat, jumped a "
    "record-breaking 20 feet into the air to catch a fly. The event, which took place in Thompson's backyard, "
    "is now being investigated by scientists for potential breaches in the laws of physics. Local authorities "
    "are considering a town festival to celebrate what is being hailed as 'The Leap of the Century."
)
