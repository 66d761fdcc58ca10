"""Hostile request bodies from a seeded ``random.Random``: the same seed gives the same bodies.

``hostile(rng, api)`` picks one family (random bytes, truncated or deeply nested JSON, numbers
JSON cannot hold, ragged arrays, lying ``.npy`` headers, pickles, wrong content types and
charsets, broken multipart forms, lying images, Parquet garbage, ...) and makes one body of it
for ``api``, whose ``kind`` says which valid bodies the mutations start from. ``valid(rng, api)``
is a body the API must answer 200.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reliability.fuzz_client import Request

__all__ = ["FAMILIES", "HUGE", "HUGE_VALID", "Api", "Context", "Marker", "hostile", "huge", "png", "valid"]

COLUMNS = ["sepal_len", "sepal_width", "petal_len", "petal_width"]
JSON = "application/json"
NPY = "application/x-npy"
PARQUET = "application/vnd.apache.parquet"
OCTET = "application/octet-stream"
FORM = "multipart/form-data"
CONTENT_TYPES = (
    JSON, NPY, PARQUET, OCTET, FORM, "text/plain", "text/csv", "image/png", "image/jpeg", "image/gif",
    "application/xml", "application/x-www-form-urlencoded", "application/python-pickle", "application/msgpack",
    "application/vnd.example+json", "application/json; charset=utf-16", "text/plain; charset=klingon",
    "multipart/form-data; boundary=", "multipart/mixed; boundary=x", "*/*", "image/*", "garbage", "a/b/c", ";;",
    "application/json; charset=", "APPLICATION/JSON; Charset=UTF-8", "video/mp4",
)


@dataclass(frozen=True)
class Api:
    """One API under fuzz: its route and the kind of body it takes (``valid`` knows each kind)."""

    path: str
    kind: str
    expect: Callable[[bytes], bool] | None = None  # for the known-good request: is this the right answer?


class Marker:
    """Unpickling this creates ``path``: the file must never exist."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


@dataclass
class Context:
    """What the families share: the marker file, the body-size limit, bodies too costly to remake."""

    marker: Path
    max_request_size: int
    cache: dict[str, bytes]


Body = tuple[str | None, bytes, tuple[tuple[str, str], ...]]  # content type, data, more headers


# -- valid bodies -----------------------------------------------------------------------------


def _rows(rng: random.Random, n: int | None = None) -> list[list[float]]:
    count = n if n is not None else rng.randint(1, 8)
    return [[round(rng.uniform(0.1, 8.0), 2) for _ in range(4)] for _ in range(count)]


def png(width: int = 4, height: int = 3) -> bytes:
    import PIL.Image

    buffer = io.BytesIO()
    PIL.Image.new("RGB", (width, height), (200, 30, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def parquet(rng: random.Random) -> bytes:
    import pandas as pd

    frame = pd.DataFrame(_rows(rng), columns=COLUMNS)
    return bytes(frame.to_parquet(engine="pyarrow"))


def form(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = "fuzzfuzz") -> Body:
    """A multipart body of (name, filename, content type, data) parts."""
    chunks = []
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        chunks += [head.encode("latin-1"), b"\r\n", data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"{FORM}; boundary={boundary}", b"".join(chunks), ()


def _flower(rng: random.Random) -> dict[str, Any]:
    return {"name": rng.choice(["rose", "iris", "lily"]), "petals": [rng.random() for _ in range(rng.randint(0, 5))],
            "weight": rng.choice([None, 1.5]), "tags": {"a": rng.randint(0, 9)}}


def valid_value(rng: random.Random, kind: str) -> Any:
    """A JSON value the API of ``kind`` takes (None for the kinds that take no JSON)."""
    values: dict[str, Callable[[], Any]] = {
        "iris": lambda: _rows(rng),
        "ndarray": lambda: rng.choice([_rows(rng), [1, 2, 3], [[True, False]], ["a", "b"]]),
        "ndarray_int": lambda: [[rng.randint(-100, 100) for _ in range(3)] for _ in range(2)],
        "flower": lambda: _flower(rng),
        "json": lambda: rng.choice([_flower(rng), [1, "a", None], "text", 3.5, {"a": {"b": [1]}}]),
        "typed": lambda: {"a": [1.0, 2.5], "b": []},
        "fields": lambda: {"x": _rows(rng, 2), "frame": [dict(zip(COLUMNS, r, strict=True)) for r in _rows(rng, 2)],
                           "scale": 0.5, "label": "fuzz"},
        "frame": lambda: [dict(zip(COLUMNS, r, strict=True)) for r in _rows(rng)],
        "frame_any": lambda: {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]},
        "series": lambda: [rng.random() for _ in range(rng.randint(1, 6))],
    }
    make = values.get(kind)
    return make() if make is not None else None


def valid(rng: random.Random, api: Api) -> Body:
    """A body ``api`` must answer 200."""
    kind = api.kind
    if kind == "text":
        return "text/plain; charset=utf-8", "héllo fuzz".encode(), ()
    if kind in ("image", "file_png"):
        return "image/png", png(), ()
    if kind == "file":
        return OCTET, rng.randbytes(rng.randint(0, 64)), ()
    if kind == "image_fields":
        return form([("img", "a.png", "image/png", png()), ("scale", None, None, b"2.0")])
    if kind == "multipart":
        return form([
            ("arr", None, None, b"[1, 2, 3]"),
            ("meta", None, JSON, json.dumps(_flower(rng)).encode()),
            ("img", "a.png", "image/png", png()),
            ("note", None, None, "nöte".encode()),
        ])
    if kind == "iris" and rng.random() < 0.3:
        return NPY, _npy(np.array(_rows(rng))), ()
    if kind == "frame" and rng.random() < 0.3:
        return PARQUET, parquet(rng), ()
    return JSON, json.dumps(valid_value(rng, kind)).encode(), ()


# -- JSON, mutated as text (1e400, NaN and 10**400 have no Python value orjson would write) ---

HOLE = "\x00hole\x00"

FRAGMENTS = (
    "1e400", "-1e400", "1" + "0" * 400, "-" + "9" * 5000, "1.5e-400", "NaN", "-NaN", "Infinity", "-Infinity",
    "null", "true", "false", '""', '"a"', "[]", "{}", "[[1, 2], [3]]", "[1, [2, [3]]]", '[1, "two", 3]',
    '"\\ud800"', '"\\u0000"', "0x10", "01", "1.", ".5", "+1", "--1", "1e", "[1,]", '{"a":1,}', "'single'",
    '{"__class__": "os.system"}', '{"$ref": "#"}', "[" * 2000 + "]" * 2000, '{"a":' * 1500 + "1" + "}" * 1500,
    '"' + "a" * 100_000 + '"', "[" + ",".join(["1"] * 20_000) + "]", "9223372036854775808", "-0", "1e-7",
    "[[]]", "[[[[]]]]", '{"": null}', '"\\x41"', "1/0", "undefined",
)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += _nodes(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _nodes(item, (*path, key))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}


def mutate_json(rng: random.Random, value: Any, count: int = 1) -> bytes:
    """``value`` as JSON text with ``count`` nodes replaced by hostile fragments (or dropped, or grown)."""
    fragments = []
    for _ in range(count):
        nodes = _nodes(value)
        path = rng.choice(nodes)
        roll = rng.random()
        if roll < 0.7:
            value = _replace(value, path, HOLE)
            fragments.append(rng.choice(FRAGMENTS))
        elif roll < 0.85 and path:  # ragged: a list one shorter or longer
            parent = path[:-1]
            node = _get(value, parent)
            if isinstance(node, list):
                grown = [*node, node[-1]] if node and rng.random() < 0.5 else node[:-1]
                value = _replace(value, parent, grown)
        else:
            value = _replace(value, path, rng.choice([None, "x", 1, [1, 2], {"k": "v"}, [[1.0] * 5], True]))
    text = json.dumps(value)
    for fragment in fragments:
        text = text.replace(json.dumps(HOLE), fragment, 1)
    return text.encode()


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


# -- .npy --------------------------------------------------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_raw(header: str, data: bytes, version: tuple[int, int] = (1, 0), length: int | None = None) -> bytes:
    """A ``.npy`` file with any header text and any declared header length."""
    text = header.encode("latin-1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    declared = len(text) if length is None else length
    if version[0] == 1:
        size = struct.pack("<H", declared % 65536)
    else:
        size = struct.pack("<I", declared % 2**32)
    return b"\x93NUMPY" + bytes(version) + size + text + data


def _npy_header(descr: str, shape: str, fortran: str = "False") -> str:
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


def lying_npy(rng: random.Random, ctx: Context) -> bytes:
    data = rng.randbytes(rng.choice([0, 8, 32, 64, 1000]))
    descr = rng.choice([
        "'<f8'", "'|O'", "'O'", "'<U10'", "'|S4'", "'<c16'", "'<f2'", "'<f16'", "'|V8'", "'>f8'", "'<M8[ns]'",
        "'<m8[s]'", "'|b1'", "'<i8'", "'u1'", "'<q'", "'xyz'", "'<f8'", "'<f0'", "'<U0'", "'|V0'", "None", "1",
        "[('a', '<f8'), ('b', '<i4')]", "[('a', '<f8'), ('b', '|O')]", "[('a', '<f8', (10**6, 10**6))]",
        "('<f8', (1000000, 1000000))", "('<f8', (4,))", "[('a', [('b', '|O')])]", "[('', '<f8')]",
        "[('a', '<f8'), ('a', '<f8')]", "{'names': ['a'], 'formats': ['<f8']}", "'" + "f" * 3000 + "'",
    ])
    shape = rng.choice([
        "(1000000000000,)", "(10**12,)", "(1000000, 1000000)", "(-1, 4)", "(1, -4)", "(2**64, 2**64)",
        "(99999999999999999999999999999999, 0)", "(4,)", "(1, 4)", "()", "(0, 4)", "[1, 4]", "(1.5, 4)", "('a',)",
        "(" + "1, " * 40 + ")", "None", "(4, 1)",
    ])
    fortran = rng.choice(["False", "True", "'yes'", "1", "None"])
    roll = rng.random()
    if roll < 0.55:
        return npy_raw(_npy_header(descr, shape, fortran), data, version=rng.choice([(1, 0), (2, 0), (3, 0)]))
    real = _npy(np.array(_rows(rng)))
    if roll < 0.65:  # the header's length lies
        return real[:8] + struct.pack("<H", rng.choice([0, 1, 10, 65535, len(real)])) + real[10:]
    if roll < 0.75:  # truncated or padded data
        cut = rng.randint(0, len(real) - 1)
        return real[:cut] if rng.random() < 0.5 else real + rng.randbytes(rng.randint(1, 64))
    if roll < 0.8:  # an unknown version, or v2 claiming a 4 GiB header
        return rng.choice([b"\x93NUMPY\x09\x09", b"\x93NUMPY\x02\x00\xff\xff\xff\x7f"]) + real[10:]
    if roll < 0.85:  # a header that is no dict, or too long
        text = rng.choice(["[1, 2]", "{'descr': __import__('os').system('true')}", "{" * 500, "x" * 20_000, ""])
        return npy_raw(text, data)
    if roll < 0.9:  # an object array with a pickle behind it
        return npy_raw(_npy_header("'|O'", "(1,)"), pickle.dumps([Marker(ctx.marker)], protocol=2))
    flipped = bytearray(real)
    for _ in range(rng.randint(1, 4)):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    return bytes(flipped)


# -- images ------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int, rows: bytes = b"", bit_depth: int = 8, color: int = 2) -> bytes:
    """A PNG whose header declares ``width``×``height`` whatever its data holds (the CRCs are right)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    idat = zlib.compress(rows or b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def bomb(ctx: Context) -> bytes:
    """A real PNG of 10000×10000 grey pixels, all zero: about 100 kB that decode to 100 MB."""
    if "bomb" not in ctx.cache:
        width = height = 10_000
        row = b"\x00" + b"\x00" * width
        compressor = zlib.compressobj(9)
        idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        ctx.cache["bomb"] = (
            b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
        )
    return ctx.cache["bomb"]


def hostile_image(rng: random.Random, ctx: Context) -> bytes:
    real = png(rng.randint(1, 40), rng.randint(1, 40))
    roll = rng.random()
    if roll < 0.25:
        return real[: rng.randint(0, len(real) - 1)]
    if roll < 0.45:
        size = rng.choice([(2**31 - 1, 2**31 - 1), (100_000, 100_000), (1, 2**31 - 1), (0, 0), (3000, 3000), (4, 4)])
        return png_declaring(*size, bit_depth=rng.choice([1, 8, 16, 3]), color=rng.choice([0, 2, 3, 6, 7]))
    if roll < 0.5:
        return bomb(ctx)
    if roll < 0.6:  # GIF, BMP and TIFF headers that declare huge images
        return rng.choice([
            b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00" + rng.randbytes(40),
            b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 2**31 - 1, -(2**31 - 1), 1,
                                                                      24, 0, 0, 0, 0, 0, 0) + rng.randbytes(16),
            b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 2) + struct.pack("<HHII", 256, 4, 1, 2**31 - 1)
            + struct.pack("<HHII", 257, 4, 1, 2**31 - 1) + b"\x00\x00\x00\x00",
            b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(0, 200)),
            b"RIFF\xff\xff\xff\x7fWEBPVP8 " + rng.randbytes(50),
            b"<svg xmlns='http://www.w3.org/2000/svg' width='100000' height='100000'/>",
            b"%PDF-1.4\n" + rng.randbytes(100),
        ])
    flipped = bytearray(real)
    for _ in range(rng.randint(1, 6)):
        flipped[rng.randrange(8, len(flipped))] = rng.randrange(256)
    return bytes(flipped)


# -- the families ------------------------------------------------------------------------------


def _some_type(rng: random.Random) -> str:
    return rng.choice(CONTENT_TYPES)


def _json_seed(rng: random.Random, api: Api) -> Any:
    value = valid_value(rng, api.kind)
    return value if value is not None else _rows(rng)


def f_random_bytes(rng: random.Random, api: Api, ctx: Context) -> Body:
    size = rng.choice([0, 1, 7, 64, 512, 4096, 65_536])
    return rng.choice([None, _some_type(rng), _own_type(rng, api)]), rng.randbytes(size), ()


def f_truncated_json(rng: random.Random, api: Api, ctx: Context) -> Body:
    text = json.dumps(_json_seed(rng, api)).encode()
    return JSON, text[: rng.randint(0, max(0, len(text) - 1))], ()


def f_deep_json(rng: random.Random, api: Api, ctx: Context) -> Body:
    depth = rng.choice([100, 1000, 10_000, 100_000])
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")])
    tail = closer * depth if rng.random() < 0.7 else ""
    leaf = rng.choice(["1", "[1, 2, 3, 4]", ""])
    return JSON, (opener * depth + leaf + tail).encode(), ()


def f_mutated_json(rng: random.Random, api: Api, ctx: Context) -> Body:
    return JSON, mutate_json(rng, _json_seed(rng, api), rng.randint(1, 3)), ()


def f_wrong_shape(rng: random.Random, api: Api, ctx: Context) -> Body:
    value: Any = rng.choice([
        [1.0, 2.0, 3.0, 4.0], [[1.0, 2.0, 3.0]], [[[1.0, 2.0, 3.0, 4.0]]], [], [[]], [[1, 2, 3, 4], [5, 6]],
        [["a", "b", "c", "d"]], [[True, False, True, False]], [[None, 1, 2, 3]], [[{"a": 1}, 2, 3, 4]],
        {"a": [1, 2, 3, 4]}, [[1, 2, 3, 4]] * 3000, [[1e308, -1e308, 5e-324, 0]], [[2**63, -(2**63) - 1, 1, 2]],
        [[1, 2, 3, 4], [1, 2, 3, "4"]], "1,2,3,4", 5, None, True,
    ])
    return JSON, json.dumps(value).encode(), ()


def f_wrong_type(rng: random.Random, api: Api, ctx: Context) -> Body:
    _, data, headers = valid(rng, api)
    return _some_type(rng), data, headers


def f_charset(rng: random.Random, api: Api, ctx: Context) -> Body:
    content_type, data, headers = valid(rng, api)
    text = data.decode("utf-8", "replace") if content_type and "json" in content_type else json.dumps(
        _json_seed(rng, api), ensure_ascii=False
    )
    text = text.replace('"', '"é', 1) if rng.random() < 0.5 else text
    encoding = rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1", "utf-8-sig", "cp1252", "utf-7"])
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    if rng.random() < 0.3:  # invalid UTF-8 inside
        at = rng.randint(0, len(raw))
        raw = raw[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]) + raw[at:]
    main = (content_type or JSON).split(";")[0] if rng.random() < 0.5 else rng.choice([JSON, "text/plain"])
    charset = rng.choice([encoding, "utf-8", "nonexistent", "", "utf-16be", "ascii"])
    return (f"{main}; charset={charset}" if charset else main), raw, ()


def f_content_encoding(rng: random.Random, api: Api, ctx: Context) -> Body:
    content_type, data, _ = valid(rng, api)
    roll = rng.random()
    if roll < 0.4:
        body = data  # claims gzip, is not
    elif roll < 0.7:
        body = gzip.compress(data, mtime=0)
    else:  # a gzip bomb: 64 kB that would inflate to 64 MB
        if "gzip-bomb" not in ctx.cache:
            ctx.cache["gzip-bomb"] = gzip.compress(b"0" * (64 << 20), 9, mtime=0)
        body = ctx.cache["gzip-bomb"]
    encoding = rng.choice(["gzip", "deflate", "br", "x-unknown", "gzip, gzip", "identity"])
    return content_type, body, (("Content-Encoding", encoding),)


def f_pickle(rng: random.Random, api: Api, ctx: Context) -> Body:
    value = rng.choice([Marker(ctx.marker), [[1.0, 2.0, 3.0, 4.0]], np.ones((1, 4)), {"name": "rose"}, "text"])
    data = pickle.dumps(value, protocol=rng.randint(0, 5))
    content_type = rng.choice(["application/python-pickle", "application/x-pickle", OCTET, NPY, JSON, None,
                               PARQUET, "image/png", "text/plain"])
    return content_type, data, ()


def f_npy(rng: random.Random, api: Api, ctx: Context) -> Body:
    return rng.choice([NPY, NPY, OCTET, JSON]), lying_npy(rng, ctx), ()


def f_image(rng: random.Random, api: Api, ctx: Context) -> Body:
    content_type = rng.choice(["image/png", "image/jpeg", "image/gif", "image/*", OCTET, None, "image/svg+xml"])
    return content_type, hostile_image(rng, ctx), ()


def f_multipart(rng: random.Random, api: Api, ctx: Context) -> Body:
    img = hostile_image(rng, ctx) if rng.random() < 0.5 else png()
    arr = rng.choice([b"[1, 2, 3]", b"[[1, 2], [3]]", b"1e400", b"NaN", b"[" * 5000, lying_npy(rng, ctx), b"abc"])
    parts: list[tuple[str, str | None, str | None, bytes]] = [
        ("arr", rng.choice([None, "a.npy"]), rng.choice([None, NPY, JSON, "text/plain"]), arr),
        ("meta", None, rng.choice([None, JSON]), mutate_json(rng, _flower(rng))),
        ("img", rng.choice(["a.png", "../../etc/passwd", None]), rng.choice(["image/png", None, "text/plain"]), img),
        ("note", None, rng.choice([None, "text/plain; charset=utf-16", "text/plain; charset=nope"]), rng.randbytes(8)),
        ("scale", None, None, rng.choice([b"2.0", b"1e400", b"abc", b"[]"])),
    ]
    rng.shuffle(parts)
    parts = parts[: rng.randint(0, len(parts))] + ([parts[0]] if parts and rng.random() < 0.2 else [])
    content_type, body, headers = form(parts)
    roll = rng.random()
    if roll < 0.15:
        content_type = FORM  # no boundary
    elif roll < 0.3:
        content_type = f"{FORM}; boundary=other"
    elif roll < 0.4:
        body = body[: rng.randint(0, len(body))]  # truncated: no closing boundary
    elif roll < 0.45:
        content_type = f"{FORM}; boundary={'b' * 5000}"
    elif roll < 0.5:  # thousands of tiny parts
        content_type, body, headers = form([(f"f{i}", None, None, b"1") for i in range(rng.choice([1001, 5000]))])
    elif roll < 0.55:  # thousands of tiny files
        content_type, body, headers = form([("img", f"{i}.png", "image/png", b"x") for i in range(1500)])
    elif roll < 0.6:
        body = body.replace(b"Content-Disposition", b"Content-Dispositio", 1)
    elif roll < 0.65:
        body = body.replace(b"\r\n", b"\n")
    return content_type, body, headers


def f_parquet(rng: random.Random, api: Api, ctx: Context) -> Body:
    real = parquet(rng)
    roll = rng.random()
    if roll < 0.3:
        data = b"PAR1" + rng.randbytes(rng.randint(0, 2000)) + b"PAR1"
    elif roll < 0.5:  # the footer length lies
        data = real[:-8] + struct.pack("<I", rng.choice([0, 1, 2**31 - 1, 2**32 - 1, len(real)])) + b"PAR1"
    elif roll < 0.7:
        data = real[: rng.randint(0, len(real))] + b"PAR1"
    else:
        flipped = bytearray(real)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(4, len(flipped) - 4)] = rng.randrange(256)
        data = bytes(flipped)
    return rng.choice([PARQUET, OCTET, "application/x-parquet"]), data, ()


def f_csv(rng: random.Random, api: Api, ctx: Context) -> Body:
    head = ",".join(COLUMNS)
    rows = [",".join(str(v) for v in r) for r in _rows(rng)]
    roll = rng.random()
    if roll < 0.2:
        rows.append("1,2")  # ragged
    elif roll < 0.35:
        rows.append('"unclosed,1,2,3')
    elif roll < 0.5:
        rows.append("nan,inf,-inf,1e400")
    elif roll < 0.6:
        head = ",".join(f"c{i}" for i in range(20_000))
    elif roll < 0.7:
        rows.append("a" * 200_000 + ",1,2,3")
    elif roll < 0.8:
        rows = ["\x00\x01\x02," * 10]
    elif roll < 0.9:
        head = "a,a,a,a"
    text = "\n".join([head, *rows])
    return "text/csv", text.encode(rng.choice(["utf-8", "utf-16"])), ()


HUGE = ("json-over", "npy-over", "ragged-under", "strings-under", "npy-short-under")
"""Near ``max_request_size``, all refused: over it (413), or under it and read whole to be refused (400)."""
HUGE_VALID = ("json-under", "npy-under")
"""Near the limit and valid: sent in the warm-up only (each costs a runner seconds, not a check)."""


def huge(ctx: Context, key: str) -> Body:
    """An array just under or just over ``max_request_size``, as JSON or ``.npy`` (built once)."""
    limit = ctx.max_request_size
    if key not in ctx.cache:
        if key.startswith("npy"):
            rows = (limit - 200) // 32 + (200 if key.endswith("over") else 0)
            data = _npy(np.full((rows, 4), 1.25))
            if "short" in key:  # the header says one row more than the data holds
                data = data[:-32]
        else:
            row = "[1.25, 2.5, 3.75, 5.0]"
            count = (limit - 2) // (len(row) + 2) - 1 + (50_000 if key.endswith("over") else 0)
            rows_text = [row] * count
            if key.startswith("ragged"):
                rows_text[-1] = "[1.25, 2.5, 3.75]"
            elif key.startswith("strings"):
                rows_text[-1] = '[1.25, 2.5, 3.75, "5.0"]'
            data = ("[" + ", ".join(rows_text) + "]").encode()
        ctx.cache[key] = data
    return (NPY if key.startswith("npy") else JSON), ctx.cache[key], ()


def f_huge(rng: random.Random, api: Api, ctx: Context) -> Body:
    return huge(ctx, rng.choice(HUGE))


def f_valid(rng: random.Random, api: Api, ctx: Context) -> Body:
    return valid(rng, api)


def _own_type(rng: random.Random, api: Api) -> str:
    types = {"image": "image/png", "file_png": "image/png", "text": "text/plain", "file": OCTET,
             "multipart": FORM, "image_fields": FORM, "iris": NPY}
    return types.get(api.kind, JSON)


Family = Callable[[random.Random, Api, Context], Body]

FAMILIES: dict[str, tuple[Family, float]] = {
    "random-bytes": (f_random_bytes, 10),
    "truncated-json": (f_truncated_json, 8),
    "deep-json": (f_deep_json, 4),
    "mutated-json": (f_mutated_json, 20),
    "wrong-shape": (f_wrong_shape, 8),
    "wrong-content-type": (f_wrong_type, 8),
    "charset": (f_charset, 6),
    "content-encoding": (f_content_encoding, 4),
    "pickle": (f_pickle, 4),
    "npy": (f_npy, 10),
    "image": (f_image, 5),
    "multipart": (f_multipart, 6),
    "parquet": (f_parquet, 3),
    "csv": (f_csv, 3),
    "huge": (f_huge, 0.1),
    "valid": (f_valid, 4),
}


def hostile(rng: random.Random, api: Api, ctx: Context) -> Request:
    """One fuzzed request to ``api``: a family picked by weight, then a body of it."""
    names = list(FAMILIES)
    name = rng.choices(names, weights=[FAMILIES[n][1] for n in names])[0]
    content_type, data, headers = FAMILIES[name][0](rng, api, ctx)
    all_headers = ((("Content-Type", content_type),) if content_type is not None else ()) + headers
    return Request(api.path, data, all_headers, tag=name)
