"""PIL images on the wire: mode, size and raw pixels (plus the palette of a palette image).

Raw pixels, not an image file: nothing on the receiving side runs an image decoder on bytes from
the network, and a model gets exactly the pixels the caller had. The size is checked against
PIL's decompression-bomb limit before an image is built, and PIL refuses pixel data shorter than
the size needs.
"""

from __future__ import annotations

from typing import Any

from runners.errors import InvalidInput

__all__ = ["from_parts", "is_image", "to_parts"]


def is_image(value: Any) -> bool:
    if not type(value).__module__.startswith("PIL."):
        return False
    from PIL import Image

    return isinstance(value, Image.Image)


def to_parts(image: Any) -> list[Any]:
    parts: list[Any] = [image.mode, image.width, image.height, image.tobytes()]
    if image.mode in ("P", "PA") and image.palette is not None:
        parts += [image.palette.mode, bytes(image.palette.tobytes())]
    return parts


def from_parts(parts: Any) -> Any:
    from PIL import Image

    if not (isinstance(parts, list) and len(parts) in (4, 6)):
        raise InvalidInput("An image in the body is not [mode, width, height, pixels].")
    mode, width, height, data = parts[:4]
    if not (isinstance(mode, str) and isinstance(width, int) and isinstance(height, int) and isinstance(data, bytes)):
        raise InvalidInput("An image in the body is not [mode, width, height, pixels].")
    if width < 0 or height < 0 or width * height > 2 * (Image.MAX_IMAGE_PIXELS or 1 << 40):
        raise InvalidInput("An image in the body has an impossible size.", detail=[width, height])
    try:
        image = Image.frombytes(mode, (width, height), data)
        if len(parts) == 6:
            palette_mode, palette = parts[4:]
            if not (isinstance(palette_mode, str) and isinstance(palette, bytes)):
                raise ValueError("the palette is not [mode, bytes]")
            image.putpalette(palette, palette_mode)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise InvalidInput("An image in the body is not valid.", detail=str(exc)) from None
    return image
