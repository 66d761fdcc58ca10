import pytest

from runners.store.tag import InvalidTag, Tag, new_version


def test_parse_and_format() -> None:
    tag = Tag.parse("iris_clf:20261121abc")
    assert (tag.name, tag.version) == ("iris_clf", "20261121abc")
    assert str(tag) == "iris_clf:20261121abc"


def test_missing_version_means_latest() -> None:
    assert Tag.parse("iris_clf").is_latest
    assert Tag.parse("iris_clf:latest").is_latest
    assert str(Tag.parse("iris_clf")) == "iris_clf:latest"
    assert not Tag.parse("iris_clf:v1").is_latest


@pytest.mark.parametrize("bad", ["", ":v1", "a:", "../x", "a/b", "a:b/c", ".hidden", "a:..", "x" * 64])
def test_refuses_names_that_are_not_plain_directory_names(bad: str) -> None:
    with pytest.raises(InvalidTag):
        Tag.parse(bad)


def test_new_versions_are_unique_and_valid() -> None:
    versions = {new_version() for _ in range(50)}
    assert len(versions) == 50
    for version in versions:
        Tag("m", version)
