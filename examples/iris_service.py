"""The tutorial's iris classifier, 1.0 style (seed 000, "Custom Endpoint URL").

    tiffin serve examples/iris_service.py:svc
    curl -X POST -H 'content-type: application/json' -d '[[5.9,3.0,5.1,1.8]]' localhost:3000/classify
"""

import numpy as np

import runners
from app import Service
from app.io import NumpyNdarray

iris_clf_runner = runners.sklearn.get("iris_clf:latest").to_runner()

svc = Service("iris_classifier", runners=[iris_clf_runner])

# Rows of the four iris features: /docs.json then documents what the model takes, and a
# body of another shape is a 400 before it reaches the runner.
FEATURES = NumpyNdarray(dtype="float64", shape=(-1, 4), enforce_shape=True)


@svc.api(input=FEATURES, output=NumpyNdarray())
def classify(input_arr: np.ndarray) -> np.ndarray:
    return iris_clf_runner.predict.run(input_arr)


@svc.api(
    input=FEATURES,
    output=NumpyNdarray(),
    route="v1/models/iris_classifier/predict",
)
def any_func_name(input_series: np.ndarray) -> np.ndarray:
    result = iris_clf_runner.predict.run(input_series)
    return result
