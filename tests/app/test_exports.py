import subprocess
import sys

import app


def test_app_exports_exactly_the_sdk_names() -> None:
    assert sorted(app.__all__) == [
        "Context",
        "Cookie",
        "Service",
        "api",
        "get_current_service",
        "mount_asgi_app",
        "on_deployment",
        "on_shutdown",
        "on_startup",
        "service",
    ]
    from app.sdk.class_style import api, mount_asgi_app, on_deployment, on_shutdown, on_startup, service
    from app.sdk.context import Context, Cookie, get_current_service
    from app.sdk.service import Service

    expected = {
        "Context": Context,
        "Cookie": Cookie,
        "on_deployment": on_deployment,
        "on_shutdown": on_shutdown,
        "on_startup": on_startup,
        "Service": Service,
        "api": api,
        "get_current_service": get_current_service,
        "mount_asgi_app": mount_asgi_app,
        "service": service,
    }
    assert {name: getattr(app, name) for name in app.__all__} == expected


def test_other_names_are_not_exported() -> None:
    import pytest

    with pytest.raises(AttributeError):
        app.ServiceApp  # noqa: B018
    with pytest.raises(ImportError):
        exec("from app import build_app", {})  # noqa: S102 - a fixed statement: the import must fail


def test_healthcheck_starts_without_the_web_stack() -> None:
    code = (
        "import sys; from app.cli import main; rc = main(['healthcheck', 'http://127.0.0.1:9/x', '--timeout', '0.2']);"
        "heavy = [m for m in ('starlette', 'numpy', 'runners', 'httpx') if m in sys.modules];"
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1 []"
