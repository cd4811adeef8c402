"""Chart shading: NEWS2's bands and the SpO2 target of the patient's own scale, named in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clinician_ui.charts import Band, Point, time_series_svg
from clinician_ui.routes.patients import chart_bands

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_bands_are_drawn_with_their_names() -> None:
    svg = time_series_svg(
        [Point(END - timedelta(hours=1), 8, "r-high")],
        start=END - timedelta(hours=24),
        end=END,
        y_range=(0, 20),
        title="NEWS2",
        bands=(Band(7, 20, "high", "high 7+"),),
    )
    assert '<rect class="band high"' in svg and ">high 7+</text>" in svg


def test_spo2_is_shaded_by_the_patients_scale() -> None:
    assert chart_bands("news2", 2)["spo2"] == (Band(88, 92, "target", "Scale 2 target 88–92%"),)
    assert chart_bands("news2", 1)["spo2"][0].lo == 96
    assert [b.css for b in chart_bands("news2", 1)["news2_total"]] == ["medium", "high"]
    assert "news2_total" not in chart_bands("npews", 1)
