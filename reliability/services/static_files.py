"""The security section's service: a directory served by a Starlette ``StaticFiles`` mount and by a
mounted Flask app's static route, beside the iris classifier and a multipart API.

``TIFFIN_SECURITY_SERVED`` names the directory; the section plants a secret beside it.
"""

import os
from pathlib import Path

import numpy as np
from flask import Flask
from starlette.staticfiles import StaticFiles

import runners
from app import Service
from app.io import JSON, Multipart, NumpyNdarray, Text

SERVED = Path(os.environ["TIFFIN_SECURITY_SERVED"])

iris = runners.sklearn.get("iris_clf:latest").to_runner()
svc = Service("security_probe", runners=[iris])


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
def classify(rows: np.ndarray) -> np.ndarray:
    answer: np.ndarray = iris.predict.run(rows)
    return answer


@svc.api(input=Multipart(rows=NumpyNdarray(), note=Text()), output=JSON())
def form(rows: np.ndarray, note: str) -> dict[str, object]:
    return {"shape": list(rows.shape), "note": note}


svc.mount_asgi_app(StaticFiles(directory=SERVED), path="/files")
flask_app = Flask(__name__, static_folder=str(SERVED), static_url_path="/assets")
svc.mount_wsgi_app(flask_app, path="/flask")
