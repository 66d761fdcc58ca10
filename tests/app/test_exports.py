import types

import app


def test_app_exports_exactly_the_sdk_names() -> None:
    assert sorted(app.__all__) == ["Service", "api", "get_current_service", "mount_asgi_app", "service"]
    for name in app.__all__:
        assert getattr(app, name) is not None


def test_nothing_else_public_is_exported_by_accident() -> None:
    public = {
        name
        for name, value in vars(app).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(app.__all__)
