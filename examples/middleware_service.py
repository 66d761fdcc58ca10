"""ASGI middleware on a 1.0-style service (seed 000, "ASGI Middleware")."""

from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

import runners
from app import Service
from app.io import NumpyNdarray

iris_clf_runner = runners.sklearn.get("iris_clf:latest").to_runner()

svc = Service("my_service", runners=[iris_clf_runner])
svc.add_asgi_middleware(TrustedHostMiddleware, allowed_hosts=["example.com", "*.example.com"])
svc.add_asgi_middleware(HTTPSRedirectMiddleware)


@svc.api(input=NumpyNdarray(), output=NumpyNdarray())
async def classify(input_arr):
    return await iris_clf_runner.predict.async_run(input_arr)
