"""tiffin's serving layer and Python SDK.

    from app import Service, service, api, mount_asgi_app, get_current_service
"""

from app.class_service import api, mount_asgi_app, service
from app.context import get_current_service
from app.service import Service

__all__ = ["Service", "api", "get_current_service", "mount_asgi_app", "service"]
