"""A Flask app mounted beside a 1.0-style service (seed 000, "Bundle WSGI app")."""

import numpy as np
from flask import Flask, jsonify, request

import runners
from app import Service
from app.io import NumpyNdarray

bento_model = runners.sklearn.get("iris_clf:latest")
iris_clf_runner = bento_model.to_runner()

svc = Service("iris_flask_demo", runners=[iris_clf_runner])


# Rows of the four iris features, so /docs.json documents what the model takes.
@svc.api(input=NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True), output=NumpyNdarray())
def predict_bentoml(input_series: np.ndarray) -> np.ndarray:
    return iris_clf_runner.predict.run(input_series)


flask_app = Flask(__name__)
svc.mount_wsgi_app(flask_app)


@flask_app.route("/metadata")
def metadata():
    return {"name": bento_model.tag.name, "version": bento_model.tag.version}


# For demo purpose, here's an identical inference endpoint implemented via Flask
@flask_app.route("/predict_flask", methods=["POST"])
def predict():
    content_type = request.headers.get("Content-Type")
    if content_type == "application/json":
        input_arr = np.array(request.json, dtype=float)
        return jsonify(iris_clf_runner.predict.run(input_arr).tolist())
    else:
        return "Content-Type not supported!"
