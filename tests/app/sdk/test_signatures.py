"""What tiffin cannot call is refused where it is declared or when the service loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runners
from app import Context, Service, api, service
from app.config.assemble import build_service
from app.config.schema import ConfigError, load_config
from app.io import JSON, NumpyNdarray, Text
from app.sdk.signatures import SignatureError, check_runner

HERE = "tests/app/sdk/test_signatures.py"


def declare(func: Any, input: Any = None) -> str | None:
    svc = Service("sig")
    svc.api(input=input or Text(), output=Text())(func)
    return svc.apis[0].ctx_param


def test_what_an_api_may_take() -> None:
    def plain(x): ...  # noqa: ANN001, ANN202
    def named(x, ctx): ...  # noqa: ANN001, ANN202
    def annotated(x, anything: Context): ...  # noqa: ANN001, ANN202
    def keyword_only(x, *, context): ...  # noqa: ANN001, ANN202
    def second_is_context(x, c): ...  # noqa: ANN001, ANN202
    def with_defaults(x, scale=2.0, *, debug=False): ...  # noqa: ANN001, ANN202
    def var_args(*args, **kwargs): ...  # noqa: ANN002, ANN003, ANN202

    assert [declare(f) for f in (plain, named, annotated, keyword_only, second_is_context)] == [
        None,
        "ctx",
        "anything",
        "context",
        "c",
    ]
    assert declare(with_defaults) is None
    assert declare(var_args) is None


@pytest.mark.parametrize(
    ("func", "problem"),
    [
        (lambda: None, "takes no parameter for its input"),
        (lambda x, y, z: None, "requires z, which tiffin does not supply"),
        (lambda x, *, scale: None, "requires scale"),
        (lambda x, ctx, context: None, "has two context parameters"),
    ],
)
def test_an_api_tiffin_cannot_call_is_refused_where_it_is_declared(func: Any, problem: str) -> None:
    with pytest.raises(SignatureError) as info:
        declare(func)
    message = str(info.value)
    assert message.startswith(f"{HERE}:")
    assert "API '<lambda>' (function <lambda>): " in message
    assert problem in message


def test_an_annotated_second_parameter_is_not_taken_for_the_context() -> None:
    def classify(x: np.ndarray, threshold: float) -> np.ndarray: ...

    with pytest.raises(SignatureError, match=r"API 'classify' \(function .*classify\): requires threshold"):
        declare(classify, NumpyNdarray())


def test_class_style_methods_are_checked_without_self() -> None:
    with pytest.raises(SignatureError, match=r"API 'predict' .*requires extra"):

        @service
        class Bad:
            @api(input=NumpyNdarray(), output=NumpyNdarray())
            def predict(self, x: np.ndarray, extra: int) -> np.ndarray: ...

    @service
    class Good:
        @api(input=JSON(), output=JSON())
        def echo(self, body: Any, ctx: Context) -> Any: ...

        @api
        def add(self, a: int, ctx: Context, b: int = 1) -> int: ...

    assert [a.ctx_param for a in Good.apis] == ["ctx", "ctx"]
    assert Good.apis[1].kwargs_input


def test_a_keyword_input_needs_a_parameter_for_each_field() -> None:
    class Named(JSON):
        argument_names = ("original", "compared")

    def both(original, compared, ctx): ...  # noqa: ANN001, ANN202
    def flexible(original, **rest): ...  # noqa: ANN001, ANN003, ANN202
    def lacking(original): ...  # noqa: ANN001, ANN202

    assert declare(both, Named()) == "ctx"
    assert declare(flexible, Named()) is None
    with pytest.raises(SignatureError, match="takes no parameter for 'compared'"):
        declare(lacking, Named())


class TwoInputs(runners.Runnable):
    @runners.method(batchable=False)
    def compare(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b


class NoRows(runners.Runnable):
    @runners.method(batchable=True)
    def count(self) -> int:
        return 0


class NeedsSize(runners.Runnable):
    def __init__(self, size: int) -> None:
        self.size = size

    @runners.method(batchable=True)
    def predict(self, x: np.ndarray) -> np.ndarray:
        return x

    @runners.method
    @staticmethod
    def version(x: Any) -> str:
        return "1"


def test_runners_a_sidecar_cannot_make_or_call_are_refused() -> None:
    check_runner(runners.Runner(TwoInputs))  # several arguments cross the hop
    with pytest.raises(SignatureError, match=r"runner 'norows' method 'count' .*merged rows"):
        check_runner(runners.Runner(NoRows))
    with pytest.raises(SignatureError, match=r"runner 'needssize': NeedsSize cannot be made with no init params"):
        check_runner(runners.Runner(NeedsSize))
    check_runner(runners.Runner(NeedsSize, runnable_init_params={"size": 3}))
    local = runners.Runner(TwoInputs, name="local")
    local.init_local()
    check_runner(local)  # called in-process: any arguments go


def write_service(tmp_path: Path, body: str) -> str:
    path = tmp_path / "svc.py"
    path.write_text("import runners\nfrom app import Service\n" + body)
    return f"{path}:svc"


def test_loading_refuses_a_runner_a_sidecar_cannot_call(tmp_path: Path) -> None:
    target = write_service(
        tmp_path,
        "from tests.app.sdk.test_signatures import NoRows\n"
        "svc = Service('s', runners=[runners.Runner(NoRows)])\n",
    )
    with pytest.raises(ConfigError, match=r"service: .*runner 'norows' method 'count'"):
        build_service(load_config(None, env={}, overrides={"service": target}, default_file=False))


def test_loading_refuses_a_yaml_runnable_without_its_init_params(tmp_path: Path) -> None:
    yaml = tmp_path / "s.yaml"
    yaml.write_text("runners:\n  sized:\n    runnable: tests.app.sdk.test_signatures:NeedsSize\n")
    with pytest.raises(ConfigError) as info:
        build_service(load_config(yaml, env={}))
    assert info.value.key == "runners.sized"
    assert "NeedsSize cannot be made" in str(info.value)


def test_models_are_tags_or_stored_models_and_must_be_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AssertionError, match="models list can only contain"):
        Service("bad", models=[1])
    with pytest.raises(TypeError, match="runners list can only contain"):
        Service("bad", runners=[object()])  # type: ignore[list-item]
    monkeypatch.setenv("TIFFIN_HOME", str(tmp_path / "home"))
    target = write_service(tmp_path, "svc = Service('s', models=['absent:latest'])\n")
    with pytest.raises(ConfigError, match=r"service 's' declares model 'absent:latest': model absent:latest not found"):
        build_service(load_config(None, env={}, overrides={"service": target}, default_file=False))


def test_declared_models_resolve_to_the_stored_models(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    from runners.store.model_store import ModelStore

    store = ModelStore(tmp_path)
    clf = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    saved = runners.sklearn.save_model("dummy", clf, store=store)
    svc = Service("s", models=["dummy:latest", saved])
    resolved = svc.resolve_models(store=store)
    assert [m.tag for m in resolved] == [saved.tag, saved.tag]
    assert svc.models == resolved


def test_keyword_inputs_of_unknown_names_only_have_their_context_found() -> None:
    from app.sdk.inference import InferenceAPI

    def parts(original, compared, ctx: Context): ...  # noqa: ANN001, ANN202

    made = InferenceAPI("parts", parts, JSON(), JSON(), "parts", kwargs_input=True)
    assert made.ctx_param == "ctx"
