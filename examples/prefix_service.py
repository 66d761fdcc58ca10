"""A mounted FastAPI app under a custom prefix (seed 002, "Customize the prefix path").

    curl localhost:3000/fastapi/hello    # Hello MyService
"""

from fastapi import FastAPI

from app import mount_asgi_app, service

app = FastAPI()


@service
@mount_asgi_app(app, path="/fastapi")  # Add the prefix here
class MyService:
    name = "MyService"

    @app.get("/hello")  # This endpoint should be requested via "/fastapi/hello"
    def hello(self):
        return f"Hello {self.name}"
