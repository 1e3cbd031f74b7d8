from sloguard.deferred import DeferredFiles


def test_texts_are_made_when_read_and_names_never_make_one() -> None:
    made: list[str] = []

    def maker(name: str):  # type: ignore[no-untyped-def]
        def make() -> str:
            made.append(name)
            return f"text of {name}"

        return make

    files = DeferredFiles({"b.yml": maker("b.yml"), "a.yml": maker("a.yml")})
    assert (len(files), sorted(files), "a.yml" in files, "c.yml" in files) == (
        2,
        ["a.yml", "b.yml"],
        True,
        False,
    )
    assert made == []
    assert files["a.yml"] == "text of a.yml" and made == ["a.yml"]
    assert files["a.yml"] == "text of a.yml" and made == ["a.yml", "a.yml"]  # never kept


def test_given_texts_join_and_replace_deferred_ones() -> None:
    files = DeferredFiles({"a.json": lambda: "made", "b.json": lambda: "made"})
    joined = files.with_texts({"b.json": "given", "c.json": "given"})
    assert dict(joined) == {"a.json": "made", "b.json": "given", "c.json": "given"}
    assert sorted(files) == ["a.json", "b.json"]
