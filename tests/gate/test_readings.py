"""The gate's range query and its answer: a check per SLO for bad events a version's
selector cannot see, made only for selectors that need a label to be there."""

from __future__ import annotations

from sloguard import promql
from sloguard.gate.readings import UNLABELLED, intervals, versions_query
from sloguard.gate.selection import selector
from sloguard.spec.model import SLI

SLI_EVENTS = SLI.model_validate(
    {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}
)


def checked_labels(query: str) -> list[str]:
    """The label sets the query checks bad events for, in order."""
    marker = f'/{UNLABELLED}"'
    return [p.rsplit("/", 2)[1] for p in query.split('"sloguard_part", "')[1:] if marker in p]


def test_labels_a_selector_needs_are_checked_once_per_slo() -> None:
    query = versions_query(
        {"a": SLI_EVENTS},
        60,
        {
            "canary": selector({"hash": "7f", "track": "canary"}),
            "baseline": selector('{track="stable",hash=~"5c.*"}'),
        },
    )
    assert checked_labels(query) == ["hash,track"]
    assert 'sum(e{hash!="",track!=""}' in query.replace("rate(", "").replace("[1m])", "")


def test_a_selector_that_also_takes_unlabelled_series_needs_no_check() -> None:
    # PromQL text needs one matcher that takes no empty value; a map of equalities does not.
    versions = {
        "canary": selector({"version": ""}),
        "baseline": selector('{version!="canary",track=~"stable|",hash="5c"}'),
    }
    assert checked_labels(versions_query({"a": SLI_EVENTS}, 60, versions)) == ["hash"]


def test_bad_events_without_the_label_make_the_slo_unattributed() -> None:
    def tag(*names: str) -> dict[str, str]:
        return {promql.PART_LABEL: "/".join(names)}

    found, unattributed = intervals(
        [
            (tag("a", "canary", "total"), [(60.0, 10.0), (120.0, 10.0)]),
            (tag("a", "hash", UNLABELLED), [(120.0, 0.5)]),
            (tag("b", "canary", "total"), [(60.0, 10.0)]),
            (tag("b", "hash", UNLABELLED), []),
        ]
    )
    assert [i.errors for i in found["a", "canary"]] == [0.0, 0.0]
    assert set(unattributed) == {"a"}
    assert "series without label(s) hash" in unattributed["a"]
