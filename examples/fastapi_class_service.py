"""FastAPI routes inside and outside a class-style service (seed 002, "FastAPI", first example).

    tiffin serve examples/fastapi_class_service.py:MyService
    curl localhost:3000/v1/hello     # Hello MyService
    curl localhost:3000/v1/hello1    # Hello MyService
"""

from fastapi import Depends, FastAPI

from app import get_current_service, mount_asgi_app, service

app = FastAPI()


@service
@mount_asgi_app(app, path="/v1")
class MyService:
    name = "MyService"

    @app.get("/hello")
    def hello(self):  # Inside service class, use `self` to access the service
        return f"Hello {self.name}"


@app.get("/hello1")
async def hello(service: MyService = Depends(get_current_service)):
    # Outside service class, use `Depends` to get the service
    return f"Hello {service.name}"
