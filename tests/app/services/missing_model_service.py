"""A service that declares a model the store does not have: refused when it is loaded."""

from app import Service

svc = Service("missing_model", models=["not_trained_yet:latest"])
