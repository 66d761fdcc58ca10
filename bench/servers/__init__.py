"""Servers the benchmark compares tiffin with: a hand-written FastAPI app and a bare ASGI app."""
