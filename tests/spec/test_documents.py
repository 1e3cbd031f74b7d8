import pytest

from sloguard.spec.documents import DocumentError, parse_documents


def test_every_node_remembers_its_line() -> None:
    [doc] = parse_documents("service: a\nslos:\n  - name: x\n    objective: 99\n")
    assert doc.data == {"service": "a", "slos": [{"name": "x", "objective": 99}]}
    assert doc.line(("slos", 0, "objective")) == 4
    assert doc.line(("slos", 0)) == 3


def test_a_missing_node_is_located_at_its_nearest_parent() -> None:
    [doc] = parse_documents("service: a\nslos:\n  - name: x\n")
    assert doc.line(("slos", 0, "sli", "events")) == 3


def test_several_documents_are_read_and_empty_ones_skipped() -> None:
    docs = parse_documents("a: 1\n---\n---\nb: 2\n")
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]


def test_invalid_yaml_reports_its_line() -> None:
    with pytest.raises(DocumentError) as caught:
        parse_documents("a: 1\nb: [1, 2\nc: 3\n")
    assert caught.value.line is not None and caught.value.line >= 2


def test_duplicate_keys_are_an_error_not_a_silent_override() -> None:
    with pytest.raises(DocumentError, match="duplicate key 'a'") as caught:
        parse_documents("a: 1\na: 2\n")
    assert caught.value.line == 2


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(DocumentError, match="unsupported YAML"):
        parse_documents("a: !!python/object/apply:os.system ['true']\n")
