import pytest

import runners
from runners.runnable import MethodConfig


class Base(runners.Runnable):
    @runners.method(batchable=True, batch_dim=0)
    def predict(self, x: object) -> object:
        return x

    @runners.method
    def info(self, x: object) -> object:
        return x

    def helper(self) -> None: ...


class Child(Base):
    def info(self, x: object) -> object:  # overridden without @method: no longer exposed
        return x

    @runners.Runnable.method(batchable=True, batch_dim=(1, 0))
    def transform(self, x: object) -> object:
        return x


def test_exposed_methods_follow_the_decorator_through_inheritance() -> None:
    assert Base.exposed_methods() == {
        "predict": MethodConfig(batchable=True, batch_dim=(0, 0)),
        "info": MethodConfig(batchable=False, batch_dim=(0, 0)),
    }
    assert set(Child.exposed_methods()) == {"predict", "transform"}
    assert Child.exposed_methods()["transform"].batch_dim == (1, 0)


def test_method_config_round_trips_through_json_shapes() -> None:
    for config in (MethodConfig.make(True, 0), MethodConfig.make(False, (1, 0))):
        assert MethodConfig.from_dict(config.to_dict()) == config
    assert MethodConfig.make(True, 2).to_dict() == {"batchable": True, "batch_dim": 2}


def test_bad_batch_dim_is_refused() -> None:
    with pytest.raises(TypeError):
        runners.method(batch_dim=(0, 1, 2))  # type: ignore[arg-type]


def test_optional_class_attributes_have_defaults() -> None:
    assert Base.SUPPORTED_RESOURCES == ("cpu",)
    assert Base.SUPPORTS_CPU_MULTI_THREADING is False


def test_generator_methods_stream_and_cannot_be_batchable() -> None:
    class Gen(runners.Runnable):
        @runners.method
        def tokens(self, prompt: str):  # type: ignore[no-untyped-def]
            yield prompt

        @runners.method
        async def async_tokens(self, prompt: str):  # type: ignore[no-untyped-def]
            yield prompt

        @runners.method
        def plain(self, x: int) -> int:
            return x

    methods = Gen.exposed_methods()
    assert methods["tokens"].stream and methods["async_tokens"].stream and not methods["plain"].stream
    assert methods["tokens"].to_dict() == {"batchable": False, "batch_dim": 0, "stream": True}
    assert MethodConfig.from_dict(methods["tokens"].to_dict()) == methods["tokens"]
    with pytest.raises(TypeError, match="cannot be batchable"):

        class Bad(runners.Runnable):
            @runners.method(batchable=True)
            def tokens(self, x: int):  # type: ignore[no-untyped-def]
                yield x
