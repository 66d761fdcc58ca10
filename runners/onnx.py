"""ONNX models: the ``ModelProto`` protobuf, run with onnxruntime.

An ONNX file is data (a graph of standard operators and its weights); loading it runs no code
from it. Two things could still reach outside the artifact and are refused at save and at load:
tensors stored as *external data* (which point onnxruntime at other files) and operators from
custom domains (which need a native library). The stored bytes are checked against their
checksum, then parsed and handed to onnxruntime from memory.

``run`` takes the inputs positionally, by name (keywords), or as one mapping of name to value;
each is cast to the dtype the graph declares. It returns the output, or a tuple of outputs when
the graph has several. It is batchable by default when the graph has one output and every input
has a dynamic first dimension. The runner's thread count is onnxruntime's
``intra_op_num_threads``; ``device: cuda[:N]`` uses the CUDA execution provider (onnxruntime-gpu).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from runners.adapter import Adapter, LoadOptions, Signatures, UntrustedArtifact, no_more
from runners.hardware import DeviceUnavailable
from runners.runnable import Runnable
from runners.store.model_store import ModelCorrupted, ModelStore, StoredModel
from runners.store.tag import Tag

__all__ = ["ADAPTER", "get", "import_model", "load_model", "runnable_for", "save_model"]

# Operator domains onnxruntime implements itself; anything else is a custom op (a native library).
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "com.microsoft"})

_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


class ONNXAdapter(Adapter):
    framework = "onnx"
    display = "an ONNX"
    artifact = "model.onnx"
    distributions = ("onnx", "onnxruntime", "onnxruntime-gpu", "numpy")
    devices = ("cpu", "cuda")
    thread_affine = False  # InferenceSession.run is thread-safe

    def check(self, model: Any) -> None:
        import onnx

        if not isinstance(model, onnx.ModelProto):
            raise TypeError(f"expected an onnx.ModelProto, not {type(model)!r} (a file: use import_model)")
        _check_self_contained(model, "the model")

    def default_signatures(self, model: Any) -> dict[str, dict[str, Any]]:
        graph = model.graph
        initializers = {t.name for t in graph.initializer}
        inputs = [i for i in graph.input if i.name not in initializers]
        dynamic = bool(inputs) and all(_dynamic_first_dim(i) for i in inputs)
        return {"run": {"batchable": dynamic and len(graph.output) == 1, "batch_dim": 0}}

    def has_method(self, model: Any, name: str) -> bool:
        return name == "run"  # an InferenceSession's one method

    def options(self, model: Any, **save_options: Any) -> dict[str, Any]:
        no_more(save_options)
        initializers = {t.name for t in model.graph.initializer}
        return {
            "inputs": [i.name for i in model.graph.input if i.name not in initializers],
            "outputs": [o.name for o in model.graph.output],
        }

    def write(self, model: Any, path: Path, options: Mapping[str, Any]) -> None:
        path.write_bytes(model.SerializeToString())

    def read(self, stored: StoredModel, load: LoadOptions) -> Any:
        import onnxruntime

        data = self.read_bytes(stored)
        _check_self_contained(_parse(data, f"model {stored.tag}"), f"model {stored.tag}")
        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = load.thread_count
        session_options.inter_op_num_threads = 1
        session_options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        try:
            return onnxruntime.InferenceSession(data, sess_options=session_options, providers=_providers(load))
        except Exception as exc:  # onnxruntime raises its own unexported exception types
            raise ModelCorrupted(f"model {stored.tag}: onnxruntime cannot load it: {exc}") from exc

    def open(self, path: Path, **options: Any) -> Any:
        """An ``.onnx`` file (self-contained: no external data)."""
        no_more(options)
        return _parse(path.read_bytes(), str(path))

    def bind(self, model: Any, name: str, stored: StoredModel, load: LoadOptions) -> Callable[..., Any]:
        return _Run(model)


class _Run:
    """``session.run`` with inputs given positionally, by keyword, or as one mapping."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = [(i.name, _DTYPES.get(i.type)) for i in session.get_inputs()]
        self.outputs = [o.name for o in session.get_outputs()]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import numpy as np

        if len(args) == 1 and not kwargs and isinstance(args[0], Mapping):
            kwargs, args = dict(args[0]), ()
        if len(args) > len(self.inputs):
            raise TypeError(f"the model takes {len(self.inputs)} inputs, not {len(args)}")
        given = {name: value for (name, _), value in zip(self.inputs, args, strict=False)}
        unknown = set(kwargs) - {name for name, _ in self.inputs}
        if unknown or given.keys() & kwargs.keys():
            raise TypeError(f"unknown or repeated inputs {sorted(unknown | (given.keys() & kwargs.keys()))}")
        given.update(kwargs)
        missing = [name for name, _ in self.inputs if name not in given]
        if missing:
            raise TypeError(f"missing inputs {missing}; the model takes {[n for n, _ in self.inputs]}")
        feeds = {name: np.asarray(given[name], dtype=dtype) for name, dtype in self.inputs}
        results = self.session.run(self.outputs, feeds)
        return results[0] if len(results) == 1 else tuple(results)


def _parse(data: bytes, origin: str) -> Any:
    import onnx

    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelCorrupted(f"{origin} is not a readable ONNX model: {exc}") from exc


def _check_self_contained(model: Any, origin: str) -> None:
    import onnx

    external = [t.name or "<unnamed>" for t in _tensors(model.graph) if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise UntrustedArtifact(
            f"{origin} keeps tensors in external files ({', '.join(external[:5])}); "
            "store a self-contained model (onnx.save_model(..., save_as_external_data=False))"
        )
    domains = {node.domain for node in _nodes(model.graph)} | {f.domain for f in model.functions}
    custom = sorted(domains - STANDARD_DOMAINS - {f.domain for f in model.functions})
    if custom:
        raise UntrustedArtifact(
            f"{origin} uses operators from custom domains ({', '.join(custom)}), which need native code"
        )


def _subgraphs(node: Any) -> Iterator[Any]:
    for attribute in node.attribute:
        if attribute.HasField("g"):
            yield attribute.g
        yield from attribute.graphs


def _nodes(graph: Any) -> Iterator[Any]:
    for node in graph.node:
        yield node
        for sub in _subgraphs(node):
            yield from _nodes(sub)


def _tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
        for sub in _subgraphs(node):
            yield from _tensors(sub)


def _dynamic_first_dim(value_info: Any) -> bool:
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape") or not tensor.shape.dim:
        return False
    first = tensor.shape.dim[0]
    return not first.HasField("dim_value")


def _providers(load: LoadOptions) -> list[Any]:
    import onnxruntime

    index = load.cuda_index
    if index is None:
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise DeviceUnavailable(
            f"device {load.device!r}: onnxruntime has no CUDA provider here (install onnxruntime-gpu)"
        )
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


ADAPTER = ONNXAdapter()


def save_model(
    name: str,
    model: Any,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store an ``onnx.ModelProto``; its one method is ``run``."""
    return ADAPTER.save_model(name, model, signatures=signatures, metadata=metadata, store=store)


def get(tag: str | Tag, *, store: ModelStore | None = None) -> StoredModel:
    return ADAPTER.get(tag, store=store)


def load_model(
    tag: str | Tag | StoredModel,
    *,
    store: ModelStore | None = None,
    threads: int | None = None,
    device: str | None = None,
) -> Any:
    """An ``onnxruntime.InferenceSession`` of the verified model."""
    return ADAPTER.load_model(tag, store=store, threads=threads, device=device)


def import_model(
    name: str,
    path: Path | str,
    *,
    signatures: Signatures | None = None,
    metadata: Mapping[str, Any] | None = None,
    store: ModelStore | None = None,
) -> StoredModel:
    """Store a self-contained ``.onnx`` file."""
    return ADAPTER.import_model(name, path, signatures=signatures, metadata=metadata, store=store)


def runnable_for(model: StoredModel) -> type[Runnable]:
    return ADAPTER.runnable_for(model)
