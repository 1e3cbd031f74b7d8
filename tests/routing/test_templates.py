"""The notification templates (alertmanager/sloguard.tmpl) rendered by Alertmanager's amtool
for a notification that mixes a per-label SLO's firing and resolved alerts with an alert
sloguard did not generate. (What a real Alertmanager sends is rendered in test_end_to_end.)"""

from __future__ import annotations

import pytest

from tests.support.alertmanager import amtool_render
from tests.support.repo import FIXTURES

pytestmark = pytest.mark.integration  # starts real processes or servers

MIXED = FIXTURES / "notifications" / "mixed.json"


@pytest.mark.parametrize(
    ("template", "kind"),
    [
        ("sloguard.text", "text"),
        ("sloguard.slack.text", "text"),
        ("sloguard.email.html", "html"),
    ],
)
def test_every_alert_is_told_apart_firing_first_and_others_by_their_own_words(
    template: str, kind: str
) -> None:
    text = amtool_render(MIXED, template, kind)
    burning = text.index("checkout/availability path=/b")  # a per-label SLO's own value
    other = text.index("SloguardDown (sloguard)")
    recovered = text.index("checkout/availability path=/a")
    assert burning < other < recovered  # firing first, as they were sent
    assert "the agent is down" in text  # its summary, not empty SLO figures
    assert "/ ()" not in text and "x over \n" not in text and "Burn rate: x" not in text
    assert "in 2d at this rate" in text and "6.9% of the error budget" in text


def test_the_title_and_pagerduty_summary_follow_the_group() -> None:
    assert amtool_render(MIXED, "sloguard.title") == "[FIRING:2] SLOErrorBudgetBurn page"
    summary = amtool_render(MIXED, "sloguard.pagerduty.description")
    # The group fires: the summary is the first firing alert's, never "recovered".
    assert summary == (
        "[FIRING:2] SLOErrorBudgetBurn page: 20.0x burn, budget left 90%, runs out in 2d at "
        "this rate"
    )
