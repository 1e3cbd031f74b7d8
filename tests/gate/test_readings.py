"""What the gate reads: the check that an SLO's bad events can be told apart by version,
made once per set of labels the selectors need to be there, and read back."""

from __future__ import annotations

from sloguard import promql
from sloguard.gate.readings import labels_chosen_by, unattributed, unattributed_query
from sloguard.gate.selection import selector
from sloguard.spec.model import SLI

SLI_EVENTS = SLI.model_validate(
    {"events": {"errors": "sum(rate(e[{{window}}]))", "total": "sum(rate(t[{{window}}]))"}}
)


def test_labels_a_selector_needs_are_checked_once() -> None:
    chosen = [
        selector({"hash": "7f", "track": "canary"}),
        selector('{track="stable",hash=~"5c.*"}'),
    ]
    assert labels_chosen_by(chosen) == (("hash", "track"),)
    query = unattributed_query({"a": (SLI_EVENTS, 1800)}, labels_chosen_by(chosen))
    assert query == promql.tagged(
        "sum(sum((increase(e[30m]) / 1800))) > 1.000001 * "
        '(sum(sum((increase(e{hash!="",track!=""}[30m]) / 1800))) or vector(0))',
        "a",
        "hash,track",
    )


def test_a_selector_that_also_takes_unlabelled_series_needs_no_check() -> None:
    # PromQL text needs one matcher that takes no empty value; a map of equalities does not.
    chosen = [
        selector({"version": ""}),
        selector('{version!="canary",track=~"stable|",hash="5c"}'),
    ]
    assert labels_chosen_by(chosen) == (("hash",),)
    assert labels_chosen_by([selector({"version": ""})]) == ()


def test_slos_whose_bad_events_lack_the_labels_are_named() -> None:
    found = unattributed([({promql.PART_LABEL: "a/hash"}, 0.5), ({"other": "x"}, 1.0)])
    assert list(found) == ["a"]
    assert "series without label(s) hash" in found["a"]
