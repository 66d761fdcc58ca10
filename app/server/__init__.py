"""The ASGI app one API worker serves: routing, errors, metrics, health, OpenAPI and Swagger UI."""
