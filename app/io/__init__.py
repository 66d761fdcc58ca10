"""IO descriptors: how an API's request body becomes its argument and its result a response.

``descriptor_for_annotation`` and ``JSONBody`` (for the class-style SDK) live in
``app.io.annotations``.
"""

from app.io.base import IODescriptor
from app.io.dataframe import PandasDataFrame
from app.io.file import File
from app.io.image import Image
from app.io.jsonio import JSON
from app.io.multipart import Multipart
from app.io.ndarray import NumpyNdarray
from app.io.series import PandasSeries
from app.io.text import Text

__all__ = [
    "JSON",
    "File",
    "IODescriptor",
    "Image",
    "Multipart",
    "NumpyNdarray",
    "PandasDataFrame",
    "PandasSeries",
    "Text",
]
