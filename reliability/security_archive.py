"""``tiffin models import ARCHIVE`` against hostile archives, and pickled model files in the store.

Each archive carries a real exported model (so only its hostile member can be the reason for a
refusal) plus one member an exported model never has: a ``..`` path, an absolute path, a
symbolic or hard link out, a device, a FIFO, ``models/x/../../..``, a member declaring a
terabyte. Each must exit 1 with one ``tiffin models:`` line, leave the store without a new model,
and write nothing outside the store (the work tree is listed before and after). The same
exported model as a good archive must import (the control).

Pickled model files: an exported model whose artifact is a pickle, under the names a pickle
goes by (``saved_model.pkl``, ``.joblib``, ``.pt``) and under each framework's own artifact name;
import must refuse the first kind, and loading (one process, then ``tiffin runner``) the second.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.server import free_port
from reliability.report import Figure
from reliability.security_pickle import Marker
from reliability.target import Run

SECTION = "security"
TERABYTE = 1 << 40
ZEROS = bytes(16 << 20)  # compresses to some 16 kB


@dataclass(frozen=True)
class Workspace:
    root: Path  # everything the check may touch; the store is root/home/models
    model: Path  # an exported model directory (model.json + model.skops)
    outside: Path  # where an escape would land

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def store(self) -> Path:
        return self.home / "models"


def workspace(run: Run) -> Workspace:
    run.ensure_iris()
    root = run.work / "security-archives"
    shutil.rmtree(root, ignore_errors=True)
    (root / "outside").mkdir(parents=True)
    (root / "home" / "models").mkdir(parents=True)
    (root / "outside" / "victim.txt").write_text("untouched\n")
    exported = root / "exported" / "iris_clf"
    done = tiffin(run, run.home, "models", "export", "iris_clf:latest", str(exported))
    if done.returncode != 0:
        raise RuntimeError(f"tiffin models export failed: {done.stderr}")
    return Workspace(root, exported, root / "outside")


def tiffin(run: Run, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(run.python).parent / "tiffin"), *args],
        env={**run.env(), "TIFFIN_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _model_members(model: Path, top: str = "iris_clf") -> list[tuple[str, bytes]]:
    return [(f"{top}/{p.name}", p.read_bytes()) for p in sorted(model.iterdir())]


def _tar(path: Path, model: Path, extra: Callable[[tarfile.TarFile], None], first: bool = False) -> Path:
    with tarfile.open(path, "w:gz") as out:
        if first:
            extra(out)
        for name, data in _model_members(model):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        if not first:
            extra(out)
    return path


def _member(
    name: str, data: bytes = b"escaped\n", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> Callable[[tarfile.TarFile], None]:
    def add(out: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        if kind == tarfile.REGTYPE:
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        else:
            info.devmajor, info.devminor = (1, 3) if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE) else (0, 0)
            out.addfile(info)

    return add


def _symlink_then_file(outside: Path) -> Callable[[tarfile.TarFile], None]:
    def add(out: tarfile.TarFile) -> None:
        _member("iris_clf/out", kind=tarfile.SYMTYPE, link=str(outside))(out)
        _member("iris_clf/out/planted.txt")(out)

    return add


def _zip(path: Path, model: Path, name: str, *, link: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as out:
        for member, data in _model_members(model):
            out.writestr(member, data)
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = 0o120777 << 16
        out.writestr(info, b"escaped\n" if not link else b"../../outside")
    return path


def _bomb(path: Path, model: Path) -> Path:
    """A tar whose last member declares a terabyte and holds a few bytes (truncated)."""
    _tar(path.with_suffix(".tmp"), model, lambda out: None)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for name, data in _model_members(model):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("iris_clf/weights.bin")
        info.size = TERABYTE
        out.addfile(info)  # the header alone: the data is never there
    path.with_suffix(".tmp").unlink()
    path.write_bytes(buffer.getvalue() + b"\0" * 4096)
    return path


def _inflated(path: Path, model: Path) -> Path:
    """The model with its artifact replaced by more bytes than model.json records."""
    with tarfile.open(path, "w:gz") as out:
        for name, data in _model_members(model):
            data = ZEROS if name.endswith(".skops") else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return path


def hostile(ws: Workspace) -> list[tuple[str, Path]]:
    d = ws.root / "archives"
    d.mkdir(exist_ok=True)
    outside = ws.outside
    absolute = str(outside / "absolute.txt")
    return [
        ("a ../escape member", _tar(d / "dotdot.tar.gz", ws.model, _member("../escape.txt"))),
        ("a deep ../ member", _tar(d / "deep.tar.gz", ws.model, _member("iris_clf/../../outside/escape.txt"))),
        ("a member named models/x/../../..", _tar(d / "models-dotdot.tar.gz", ws.model, _member("models/x/../../.."))),
        ("an absolute path member", _tar(d / "absolute.tar.gz", ws.model, _member(absolute))),
        ("a ..\\ member", _tar(d / "backslash.tar.gz", ws.model, _member("..\\escape.txt"))),
        ("a symlink out, then a file through it", _tar(d / "symlink.tar.gz", ws.model, _symlink_then_file(outside))),
        (
            "a symlink first",
            _tar(
                d / "symlink-first.tar.gz",
                ws.model,
                _member("iris_clf/x", kind=tarfile.SYMTYPE, link="/etc/passwd"),
                first=True,
            ),
        ),
        (
            "a hard link to a file outside",
            _tar(
                d / "hardlink.tar.gz",
                ws.model,
                _member("iris_clf/hard", kind=tarfile.LNKTYPE, link=str(outside / "victim.txt")),
            ),
        ),
        ("a character device", _tar(d / "device.tar.gz", ws.model, _member("iris_clf/null", kind=tarfile.CHRTYPE))),
        ("a FIFO", _tar(d / "fifo.tar.gz", ws.model, _member("iris_clf/fifo", kind=tarfile.FIFOTYPE))),
        ("a member declaring 1 TiB (tar bomb)", _bomb(d / "bomb.tar", ws.model)),
        (
            "16 MiB of zeros beside the model (gzip bomb)",
            _tar(d / "extra.tar.gz", ws.model, _member("iris_clf/x.bin", ZEROS)),
        ),
        ("an artifact inflated to 16 MiB", _inflated(d / "inflated.tar.gz", ws.model)),
        ("a zip with ../escape", _zip(d / "dotdot.zip", ws.model, "../escape.txt")),
        ("a zip with an absolute path", _zip(d / "absolute.zip", ws.model, absolute)),
        ("a zip with a symlink", _zip(d / "symlink.zip", ws.model, "iris_clf/link", link=True)),
    ]


def snapshot(root: Path, store: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` but the store's: (size, mtime_ns), links not followed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == store or store in Path(dirpath).parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            if Path(dirpath) / name == store:
                continue
            st = (Path(dirpath) / name).lstat()
            found[str(Path(dirpath) / name)] = (st.st_size, st.st_mtime_ns)
    return found


def _store_models(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.glob("**/model.json")) if store.is_dir() else []


def archives(run: Run) -> list[Figure]:
    ws = workspace(run)
    cases = hostile(ws)
    refused, problems = 0, []
    for what, path in cases:
        before, models_before = snapshot(ws.root, ws.store), _store_models(ws.store)
        done = tiffin(run, ws.home, "models", "import", str(path))
        after, models_after = snapshot(ws.root, ws.store), _store_models(ws.store)
        message = done.stderr.strip()
        clear = done.returncode == 1 and message.startswith("tiffin models:") and len(message.splitlines()) == 1
        written = sorted(set(after) - set(before) | {k for k in before if after.get(k) != before[k]})
        leftovers = [p.name for p in ws.store.iterdir() if p.name.startswith(".")] if ws.store.is_dir() else []
        if clear and not written and models_after == models_before and not leftovers:
            refused += 1
        else:
            problems.append(
                f"{what}: exit {done.returncode}, {message[-200:] or done.stdout.strip()[-200:]!r}, "
                f"written outside the store {written[:3]}, "
                f"new models {sorted(set(models_after) - set(models_before))}, "
                f"staging left {leftovers}"
            )
    good = ws.root / "archives" / "good.tar.gz"
    exported = tiffin(run, run.home, "models", "export", "iris_clf:latest", str(good))
    imported = tiffin(run, ws.home, "models", "import", str(good))
    control = exported.returncode == 0 and imported.returncode == 0 and len(_store_models(ws.store)) == 1
    if not control:
        problems.append(
            f"the control (a good archive) did not import: {exported.stderr.strip()} {imported.stderr.strip()}"
        )
    figure = (
        f"{refused}/{len(cases)} hostile archives refused (exit 1, one line), nothing written outside the store; "
        f"a good archive imports: {control}"
    )
    example = tiffin(run, ws.home, "models", "import", str(cases[0][1])).stderr.strip()
    return [
        Figure(
            SECTION,
            "`tiffin models import` of hostile .tar.gz/.tar/.zip archives",
            figure,
            not problems,
            "; ".join(problems) or f"e.g. {example}",
        )
    ]


# --- pickled model files -----------------------------------------------------------------


def _pickled_model(
    ws: Workspace, name: str, framework: str, artifact: str, data: bytes, options: dict[str, object]
) -> Path:
    info = json.loads((ws.model / "model.json").read_text())
    version = f"{int(time.time())}{name.replace('_', '')[:8]}"
    info.update(name=name, version=version, framework=framework, artifact=artifact, options=options, files={})
    info.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    target = ws.root / "pickled" / name
    target.mkdir(parents=True)
    (target / "model.json").write_text(json.dumps(info))
    (target / artifact).write_bytes(data)
    return target


LOADER = """\
import importlib, sys, json
import runners
from runners.store.model_store import StoreError
results = {}
for tag in sys.argv[1:]:
    stored = runners.models.get(tag)
    try:
        importlib.import_module("runners." + stored.info.framework).load_model(tag)
        results[tag] = "LOADED"
    except Exception as exc:
        kind = "refused" if isinstance(exc, StoreError) else "UNCLEAR"
        results[tag] = kind + " " + type(exc).__name__ + ": " + str(exc)[:160]
print(json.dumps(results))
"""


def pickled_models(run: Run) -> list[Figure]:
    ws = Workspace(
        run.work / "security-archives",
        run.work / "security-archives" / "exported" / "iris_clf",
        run.work / "security-archives" / "outside",
    )
    if not ws.model.is_dir():
        ws = workspace(run)
    shutil.rmtree(ws.root / "pickled", ignore_errors=True)
    marker = ws.root / "pickle-fired"
    payload = pickle.dumps(Marker(marker), protocol=4)
    torch_pickle = payload if run.short else _torch_save(marker)  # short mode imports no torch
    figures = []
    # Pickles under the names they go by: import itself must refuse them.
    named = [
        ("pkl_sklearn", "sklearn", "saved_model.pkl", payload),
        ("joblib_sklearn", "sklearn", "model.joblib", payload),
        ("pt_pytorch", "pytorch", "model.pt", torch_pickle),
        ("pkl_xgboost", "xgboost", "saved_model.pkl", payload),
    ]
    refused, problems = 0, []
    for name, framework, artifact, data in named:
        source = _pickled_model(
            ws, name, framework, artifact, data, {"format": "torchscript"} if framework == "pytorch" else {}
        )
        done = tiffin(run, ws.home, "models", "import", str(source))
        if done.returncode == 1 and name not in " ".join(_store_models(ws.store)):
            refused += 1
        else:
            problems.append(f"{artifact} ({framework}) imported: {done.stdout.strip()} {done.stderr.strip()}")
    figure = (
        f"{refused}/{len(named)} exported models whose artifact is a .pkl/.joblib/.pt pickle refused at import; "
        f"marker created: {marker.exists()}"
    )
    figures.append(
        Figure(
            SECTION,
            "`tiffin models import` of pickled model files",
            figure,
            not problems and not marker.exists(),
            "; ".join(problems),
        )
    )
    # Pickles under each framework's own artifact name: they import (checksums match), loading refuses.
    disguised: list[tuple[str, str, str, bytes, dict[str, object]]] = [
        ("skops_pickle", "sklearn", "model.skops", payload, {}),
        ("torchscript_pickle", "pytorch", "model.torchscript", torch_pickle, {"format": "torchscript"}),
        (
            "safetensors_pickle",
            "pytorch",
            "model.safetensors",
            torch_pickle,
            {"format": "state_dict", "module": "torch.nn:Linear", "init_kwargs": {"in_features": 4, "out_features": 3}},
        ),
        ("ubj_pickle", "xgboost", "model.ubj", payload, {}),
        ("txt_pickle", "lightgbm", "model.txt", payload, {}),
        ("onnx_pickle", "onnx", "model.onnx", payload, {}),
    ]
    if run.short:
        disguised = [d for d in disguised if d[0] in ("skops_pickle", "ubj_pickle")]  # no torch import
    tags = []
    for name, framework, artifact, data, options in disguised:
        source = _pickled_model(ws, name, framework, artifact, data, options)
        done = tiffin(run, ws.home, "models", "import", str(source))
        if done.returncode != 0:
            problems.append(f"{name}: import refused already ({done.stderr.strip()})")
            continue
        tags.append(done.stdout.split()[-1])
    loader = subprocess.run(
        [run.python, "-c", LOADER, *tags],
        env={**run.env(), "TIFFIN_HOME": str(ws.home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    try:
        results: dict[str, str] = json.loads(loader.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        results = {}
        problems.append(f"the loader failed: {loader.stderr[-300:]}")
    loaded = [t for t, r in results.items() if not r.startswith("refused ")]
    problems += [f"{t}: {results[t]}" for t in loaded]
    runner = _runner_refuses(run, ws, tags[0]) if tags else "no tag"
    if runner:
        problems.append(f"tiffin runner --model {tags[0] if tags else ''}: {runner}")
    fired = marker.exists()
    figure = (
        f"{len(results) - len(loaded)}/{len(disguised)} pickles under a framework's artifact name refused at load "
        f"({', '.join(sorted({r.split(':')[0].split()[-1] for r in results.values()}))}); "
        f"`tiffin runner` exits: {not runner}; marker created: {fired}"
    )
    detail = "; ".join(problems) or "; ".join(f"{t}: {r}" for t, r in results.items())
    figures.append(
        Figure(
            SECTION,
            "loading pickles stored as model.skops/.torchscript/.ubj/...",
            figure,
            not problems and not fired,
            detail,
        )
    )
    return figures


def _torch_save(marker: Path) -> bytes:
    """``torch.save`` of a pickle that fires: the .pt a careless exporter writes."""
    try:
        import torch
    except ImportError:
        return pickle.dumps(Marker(marker), protocol=2)
    buffer = io.BytesIO()
    torch.save({"weights": Marker(marker)}, buffer)
    data: bytes = buffer.getvalue()
    return data


def _runner_refuses(run: Run, ws: Workspace, tag: str) -> str:
    """'' when ``tiffin runner`` of ``tag`` exits non-zero with a message, else what happened."""
    port = free_port(span=1)
    argv = [
        str(Path(run.python).parent / "tiffin"),
        "runner",
        "evil",
        "--model",
        tag,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        argv,
        env={**run.env(), "TIFFIN_HOME": str(ws.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return "still running after 60 s: it loaded"
    if proc.returncode == 0:
        return f"exited 0: {out[-200:]}"
    if tag.partition(":")[0] not in out or "not a readable" not in out:
        return f"exited {proc.returncode} without saying the model is refused: {out[-300:]}"
    return ""
