"""``app.io.base``: checks every descriptor shares (here: the request's content coding)."""

from __future__ import annotations

import gzip

import pytest

from app.io import JSON, File, Image, Multipart, NumpyNdarray, Text

FORM = "multipart/form-data; boundary=b"
FORM_BODY = b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n'


@pytest.mark.parametrize(
    ("descriptor", "content_type", "body"),
    [
        (JSON(), "application/json", b"[1, 2]"),
        (NumpyNdarray(), "application/json", b"[1, 2]"),
        (Text(), "text/plain", b"hi"),
        (File(), "application/octet-stream", b"hi"),
        (File(), FORM, FORM_BODY),
        (Image(), FORM, FORM_BODY),
        (Multipart(note=Text()), FORM, FORM_BODY),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, (str, bytes)) else None,
)
@pytest.mark.parametrize("coding", ["gzip", "br", "x-unknown"])
def test_a_body_in_a_content_coding_is_415(client_for, descriptor, content_type, body, coding):
    # found by reliability.fuzz: the coding was ignored, so a gzip claim on plain JSON answered 200
    client = client_for(descriptor, lambda value: "ok", output=Text())
    payload = gzip.compress(body) if coding == "gzip" else body
    response = client.post("/", content=payload, headers={"content-type": content_type, "content-encoding": coding})
    assert response.status_code == 415
    assert response.json()["detail"] == {"content_encoding": coding, "accepted": ["identity"]}


def test_identity_is_the_body_as_sent(client_for):
    client = client_for(JSON())
    response = client.post("/", content=b"[1, 2]", headers={"content-type": "application/json",
                                                           "content-encoding": "identity"})
    assert response.status_code == 200
    assert response.json() == [1, 2]
