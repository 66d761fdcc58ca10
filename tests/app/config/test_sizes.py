import pytest

from app.config.sizes import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (0, 0),
        (1024, 1024),
        (2048.0, 2048),
        ("4096", 4096),
        ("10B", 10),
        ("100k", 100_000),
        ("100K", 100_000),
        ("1KB", 1000),
        ("512KiB", 512 * 1024),
        ("512ki", 512 * 1024),
        ("20MiB", 20 * 1024**2),
        ("20 MiB", 20 * 1024**2),
        ("20mb", 20_000_000),
        ("1GB", 10**9),
        ("1.5GiB", 3 * 2**29),
        ("2T", 2 * 10**12),
        ("0.1k", 100),
    ],
)
def test_parse_size(text: object, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "20XB", "-1", -1, "1e6", "20 M iB", "20\nMiB", True, 1.5, None, [1]])
def test_parse_size_refuses(text: object) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_size_round_trips() -> None:
    assert format_size(20 * 1024**2) == "20MiB"
    assert format_size(1536) == "1536B"
    assert format_size(1000) == "1000B"
    assert format_size(3 * 1024**3) == "3GiB"
    for size in (0, 1, 1000, 1024, 5 * 1024**2, 7 * 1024**4):
        assert parse_size(format_size(size)) == size
