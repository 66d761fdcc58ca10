from starlette.testclient import TestClient

from bench.servers import ceiling_app


def test_ceiling_answers_the_known_body_and_readyz() -> None:
    with TestClient(ceiling_app.app) as client:
        answer = client.post("/classify", content=b"[[5.9,3.0,5.1,1.8]]")
        assert (answer.status_code, answer.content) == (200, b"[2]")
        assert answer.headers["content-type"] == "application/json"
        assert client.get("/readyz").status_code == 200


def test_ceiling_refuses_bodies_it_does_not_know() -> None:
    with TestClient(ceiling_app.app) as client:
        assert client.post("/classify", content=b"[[1,2,3,4]]").status_code == 400
        assert client.get("/nowhere").status_code == 404
