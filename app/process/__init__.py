"""Processes: the gunicorn master and its uvicorn workers, the ``tiffin serve`` supervisor, logging."""
