"""The pure layout of reports: rates never divide by zero, CSVs keep blanks blank, charts need no inline style."""

from __future__ import annotations

from datetime import UTC, datetime

from clinician_ui import reports as rp
from clinician_ui.queries.reports import Figure, SitRepRow


def test_rates_round_to_one_place_and_are_blank_without_a_denominator() -> None:
    assert rp.pct(2, 3) == 66.7
    assert rp.pct(0, 4) == 0.0
    assert rp.pct(1, 0) is None and rp.pct(None, 3) is None


def test_figures_fill_missing_counts_with_zero_but_never_a_missing_length_of_stay() -> None:
    f = rp.Figures(
        [Figure("frailty", "alerts", "high", 4.0), Figure("frailty", "acknowledged_within_target", "high", 3.0)]
    )
    assert f.get("frailty", "alerts", "medium") == 0
    assert f.get("frailty", "length_of_stay_days", "median") is None
    derived = {(m, b): v for m, b, v in f.derived("frailty")}
    assert derived[("acknowledged_within_target_pct", "high")] == 75.0
    assert derived[("acknowledged_within_target_pct", "medium")] is None
    assert derived[("alerts_per_patient_day", "news2")] is None  # no patient-days


def test_sitrep_csv_gives_the_london_date_and_blank_occupancy_for_no_beds() -> None:
    row = SitRepRow(datetime(2026, 7, 2, 7, tzinfo=UTC), "ward", "LPT", "frailty", "frailty", "Frailty", 0, 0)
    lines = rp.sitrep_csv([row]).splitlines()
    assert lines[0].startswith("snapshot_date,snapshot_time,level")
    assert lines[1] == "2026-07-02,2026-07-02T08:00:00+01:00,ward,LPT,frailty,frailty,Frailty,0,0,"


def test_bars_are_plain_svg_with_a_title_and_no_inline_style() -> None:
    svg = rp.bars_svg(
        [rp.Bar("high", 50.0, "r-high"), rp.Bar("low", None)], title="Within target", unit="%", maximum=100
    )
    assert svg.startswith('<svg class="chart"') and "style=" not in svg and "<script" not in svg
    assert "<title>Within target: high 50%; low –</title>" in svg
    assert 'width="185.0"' in svg  # half of the 370-unit bar span
