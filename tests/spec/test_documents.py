import pytest

from sloguard.spec import documents
from sloguard.spec.documents import MAX_DEPTH, MAX_NODES, DocumentError, parse_documents


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


# 312 bytes that expand to 59,049 strings; the real attack nests further, to a billion.
BILLION_LAUGHS = "\n".join(
    [
        "service: lol",
        'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 5)),
        "slos: [*a4]",
    ]
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("service: a\nslos: &a [ *a ]\n", 2),
        ("service: a\nslos:\n  - &slo {name: x}\n  - *slo\n", 3),
        ("service: a\nslos: *nowhere\n", 2),
        (BILLION_LAUGHS, 2),
    ],
    ids=["recursive", "shared", "undefined", "billion-laughs"],
)
def test_aliases_are_refused_where_first_written_before_anything_is_expanded(
    text: str, line: int
) -> None:
    with pytest.raises(DocumentError, match="YAML aliases are not allowed") as caught:
        parse_documents(text)
    assert caught.value.line == line


def test_more_nodes_than_the_limit_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_NODES", 5)
    [doc] = parse_documents("[1, 2, 3, 4]\n")  # the sequence and its four items
    assert doc.data == [1, 2, 3, 4]
    with pytest.raises(DocumentError, match="more than 5 YAML nodes in one file"):
        parse_documents("[1, 2]\n---\n[3, 4]\n")  # the limit holds for the text, not a document


def test_the_node_limit_is_far_beyond_a_real_definition_file() -> None:
    with pytest.raises(DocumentError, match=f"more than {MAX_NODES} YAML nodes") as caught:
        parse_documents("- 1\n" * MAX_NODES)
    assert caught.value.line == MAX_NODES


@pytest.mark.parametrize(
    "deeper",
    ["[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "- " * 100_000 + "1"],
    ids=["flow", "block"],
)
def test_nesting_deeper_than_the_limit_is_refused_not_a_recursion_error(deeper: str) -> None:
    [doc] = parse_documents("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert doc.data
    with pytest.raises(DocumentError, match=f"YAML nested deeper than {MAX_DEPTH} levels"):
        parse_documents(deeper)
