"""Every seed example, served by ``tiffin serve`` as a user would, with every endpoint it defines called."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from runners.imports import import_target
from tests.procs import ROOT, Proc, free_port_block, tiffin

EXAMPLE_INPUT: str = import_target(f"{ROOT / 'examples' / 'summarizer.py'}:EXAMPLE_INPUT")

IRIS = [[5.9, 3.0, 5.1, 1.8]]
FEATURES = {"sepal_len": 5.9, "sepal_width": 3.0, "petal_len": 5.1, "petal_width": 1.8}


def check_iris_service(c: httpx.Client, home: Path) -> None:
    assert c.post("/classify", json=IRIS).json() == [2]
    assert c.post("/v1/models/iris_classifier/predict", json=IRIS).json() == [2]


def check_middleware_service(c: httpx.Client, home: Path) -> None:
    assert c.get("/livez", headers={"host": "evil.test"}).status_code == 400
    assert c.post("/classify", json=IRIS, headers={"host": "evil.test"}).status_code == 400
    redirect = c.post("/classify", json=IRIS, headers={"host": "api.example.com"})
    assert redirect.status_code in (307, 308)
    assert redirect.headers["location"] == "https://api.example.com/classify"


def check_fastapi_service(c: httpx.Client, home: Path) -> None:
    assert c.post("/predict_bentoml", json=FEATURES).json() == [2]
    meta = c.get("/metadata").json()
    assert meta["name"] == "iris_clf_with_feature_names" and meta["version"]
    assert c.post("/predict_fastapi", json=FEATURES).json() == {"prediction": 2}
    assert c.post("/predict_fastapi_async", json=FEATURES).json() == {"prediction": 2}
    assert c.post("/predict_bentoml", json={"sepal_len": "long"}).status_code == 400
    paths = c.get("/docs.json").json()["paths"]
    assert {"/predict_bentoml", "/metadata", "/predict_fastapi", "/predict_fastapi_async"} <= set(paths)


def check_flask_service(c: httpx.Client, home: Path) -> None:
    assert c.post("/predict_bentoml", json=IRIS).json() == [2]
    meta = c.get("/metadata").json()
    assert meta["name"] == "iris_clf" and meta["version"]
    assert c.post("/predict_flask", json=IRIS).json() == [2]
    other = c.post("/predict_flask", content="5.9,3,5.1,1.8", headers={"content-type": "text/csv"})
    assert other.text == "Content-Type not supported!"


def check_fastapi_class_service(c: httpx.Client, home: Path) -> None:
    assert c.get("/v1/hello").json() == "Hello MyService"
    assert c.get("/v1/hello1").json() == "Hello MyService"


@functools.cache
def summarizer(home: Path) -> Any:
    """The stored pipeline the examples serve, loaded here: their answers must be its answers."""
    import runners
    from runners.store.model_store import ModelStore

    return runners.transformers.load_model("summarizer", store=ModelStore(home / "models"), threads=1)


def summary(home: Path, text: str) -> str:
    result: str = summarizer(home)(text)[0]["summary_text"]
    return result


def check_summarization(c: httpx.Client, home: Path) -> None:
    response = c.post("/summarize", json={})
    assert response.status_code == 200 and response.text == summary(home, EXAMPLE_INPUT)
    assert response.text.startswith("Breaking News")  # the tiny model learned to lead with the first sentence
    text = "One sentence here. Another one there."
    assert c.post("/summarize", json={"text": text}).text == summary(home, text)


def check_summarization_fastapi(c: httpx.Client, home: Path) -> None:
    check_summarization(c, home)
    assert c.get("/v1/hello-inside").json().startswith("Hello MyService. You can access the Service instance inside")
    assert c.get("/v1/hello-outside").json().startswith("Hello MyService. You can access the Service instance outside")


def check_quart_service(c: httpx.Client, home: Path) -> None:
    assert c.get("/v1/hello").text == "Hello, MyService"


def check_quart_summarization(c: httpx.Client, home: Path) -> None:
    check_summarization(c, home)
    assert c.get("/v1/hello").text == "Hello, MyService"


def check_prefix_service(c: httpx.Client, home: Path) -> None:
    assert c.get("/fastapi/hello").json() == "Hello MyService"
    assert c.get("/hello").status_code == 404


def check_trusted_host_service(c: httpx.Client, home: Path) -> None:
    text = {"text": "Short news. More words follow."}
    assert c.post("/summarize", json=text, headers={"host": "example.com"}).text == summary(home, text["text"])
    assert c.post("/summarize", json=text, headers={"host": "evil.test"}).status_code == 400


def check_classifies_iris(c: httpx.Client, home: Path) -> None:
    assert c.post("/classify", json=IRIS).json() == [2]
    assert c.post("/classify", json=[[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5], *IRIS]).json() == [0, 1, 2]
    assert c.post("/classify", json=[[1.0, 2.0]]).status_code == 400  # the YAML's shape: [-1, 4]


def check_summarizer_yaml(c: httpx.Client, home: Path) -> None:
    text = "A new library opened downtown on Monday. It holds forty thousand books."
    one = c.post("/summarize", content=text, headers={"content-type": "text/plain"})
    assert one.status_code == 200 and one.json() == summarizer(home)(text)
    texts = [EXAMPLE_INPUT, text]
    assert c.post("/summarize_many", json=texts).json() == summarizer(home)(texts)


def check_custom_runnable(c: httpx.Client, home: Path) -> None:
    assert c.post("/classify", json=IRIS).json() == [2]
    assert c.post("/classify", json=[[5.1, 3.5, 1.4, 0.2], *IRIS]).json() == [0, 2]


def check_token_streaming(c: httpx.Client, _: Path) -> None:
    text = {"content-type": "text/plain"}
    with c.stream("POST", "/generate", content="the quick brown fox", headers=text) as response:
        assert response.headers["content-type"].startswith("text/plain")
        chunks = list(response.iter_raw())  # as they came: one per token, unless the client read late
        assert b"".join(chunks) == b"fox brown quick the " and chunks[0].startswith(b"fox ")
    sse = c.post("/generate", content="hi there", headers={**text, "accept": "text/event-stream"})
    assert sse.text == "data: there \n\ndata: hi \n\n"


EXAMPLES: dict[str, tuple[list[str], Callable[[httpx.Client, Path], None]]] = {
    "iris_service": (["examples/iris_service.py:svc"], check_iris_service),
    "middleware_service": (["examples/middleware_service.py:svc"], check_middleware_service),
    "fastapi_service": (["examples/fastapi_service.py:svc"], check_fastapi_service),
    "flask_service": (["examples/flask_service.py:svc"], check_flask_service),
    "fastapi_class_service": (["examples/fastapi_class_service.py:MyService"], check_fastapi_class_service),
    "summarization_fastapi": (["examples/summarization_fastapi.py:Summarization"], check_summarization_fastapi),
    "quart_service": (["examples/quart_service.py:MyService"], check_quart_service),
    "quart_summarization": (["examples/quart_summarization.py:Summarization"], check_quart_summarization),
    "prefix_service": (["examples/prefix_service.py:MyService"], check_prefix_service),
    "trusted_host_service": (["examples/trusted_host_service.py:Summarization"], check_trusted_host_service),
    "custom_runnable": (["config/custom_runnable.yaml"], check_custom_runnable),
    "token_streaming": (["examples/token_streaming.py:svc"], check_token_streaming),
    "xgboost": (["config/xgboost.yaml"], check_classifies_iris),
    "lightgbm": (["config/lightgbm.yaml"], check_classifies_iris),
    "onnx": (["config/onnx.yaml"], check_classifies_iris),
    "pytorch": (["config/pytorch.yaml"], check_classifies_iris),
    "summarizer": (["config/summarizer.yaml"], check_summarizer_yaml),
}


# The middleware example redirects every request to https, so its readiness shows as a redirect.
READY_AS = {"middleware_service": (307, "example.com")}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example_serves_every_endpoint(example: str, examples_home: Path) -> None:
    args, check = EXAMPLES[example]
    port = free_port_block(3)
    proc = Proc(
        tiffin("serve", *args, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        env={"TIFFIN_HOME": str(examples_home)},
    )
    try:
        status, host = READY_AS.get(example, (200, "example.com"))
        # the summarization services load torch and transformers in the API worker itself
        proc.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=240, status=status, headers={"host": host})
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            check(client, examples_home)
    finally:
        proc.stop()
