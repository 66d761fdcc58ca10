"""The server's own ASGI middleware, one concept per module; stacked in ``app.server.application``."""
