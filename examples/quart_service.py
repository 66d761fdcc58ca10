"""A Quart app mounted on a class-style service (seed 002, "Quart").

    tiffin serve examples/quart_service.py:MyService
    curl localhost:3000/v1/hello     # Hello, MyService
"""

from quart import Quart

from app import get_current_service, mount_asgi_app, service

app = Quart(__name__)


@app.get("/hello")
async def hello_world():
    service = get_current_service()
    return f"Hello, {service.name}"


@service
@mount_asgi_app(app, path="/v1")
class MyService:
    name = "MyService"
