"""The Python SDK users write services with: ``Service``, the class style, inference APIs, context."""
