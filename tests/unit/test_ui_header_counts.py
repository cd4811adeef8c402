"""The header's alert counts: bands in risk order, empty bands left out, unknown risks not counted."""

from __future__ import annotations

from clinician_ui.queue import header_counts


def test_bands_in_risk_order_with_the_alerts_awaiting_acknowledgement() -> None:
    counts = header_counts([("low-medium", 1, 1), ("high", 2, 1), ("medium", 0, 0)])
    assert counts.bands == (("high", 2), ("low-medium", 1))
    assert counts.to_acknowledge == 2
    assert counts.title == "2 high, 1 low-medium"


def test_no_open_alerts_is_an_empty_title() -> None:
    counts = header_counts([("none", 1, 1)])
    assert counts.bands == ()
    assert counts.to_acknowledge == 0
    assert counts.title == ""
