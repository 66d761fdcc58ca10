import app.io


def test_exported_names_are_exactly_the_descriptors():
    assert sorted(app.io.__all__) == [
        "File",
        "IODescriptor",
        "Image",
        "JSON",
        "Multipart",
        "NumpyNdarray",
        "PandasDataFrame",
        "PandasSeries",
        "Text",
    ]
    for name in app.io.__all__:
        assert getattr(app.io, name).__module__.startswith("app.io.")
