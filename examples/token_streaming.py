"""Tokens streamed from a runner to the client, as a text generator would make them.

    tiffin serve examples/token_streaming.py:svc
    curl -N -H 'content-type: text/plain' -d 'the quick brown fox' localhost:3000/generate
    curl -N -H 'content-type: text/plain' -H 'accept: text/event-stream' -d 'hi there' localhost:3000/generate

The "model" echoes the prompt back word by word, reversed, with a pause per token: a stand-in for
a language model's decoding loop that runs anywhere, offline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import runners
from app import Service
from app.io import Text


class EchoLM(runners.Runnable):
    @runners.method  # a generator: each token reaches the caller as soon as it is yielded
    def generate(self, prompt: str) -> Iterator[str]:
        for word in reversed(prompt.split()):
            time.sleep(0.05)  # the cost of one decoding step
            yield word + " "


lm = runners.Runner(EchoLM, name="echo_lm")
svc = Service("token_streaming", runners=[lm])


@svc.api(input=Text(), output=Text())
async def generate(prompt: str) -> AsyncIterator[str]:
    async for token in lm.generate.async_stream(prompt):
        yield token
