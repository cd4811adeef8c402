"""The SVG chart builder: valid markup, points placed and classed, clipping, target line, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from clinician_ui.charts import HEIGHT, PAD_BOTTOM, PAD_TOP, Point, time_series_svg

START = datetime(2026, 11, 23, tzinfo=UTC)
END = START + timedelta(hours=24)
NS = "{http://www.w3.org/2000/svg}"


def _svg(points: list[Point], **kw: object) -> ET.Element:
    return ET.fromstring(time_series_svg(points, start=START, end=END, y_range=(0, 20), title="NEWS2", **kw))


def test_points_are_plotted_in_time_order_with_their_band_class() -> None:
    root = _svg([Point(START + timedelta(hours=12), 7, "r-high"), Point(START, 0, "r-low")])
    dots = root.findall(f"{NS}circle")
    assert [d.get("class") for d in dots] == ["pt r-low", "pt r-high"]
    assert float(dots[0].get("cy")) == HEIGHT - PAD_BOTTOM  # 0 sits on the axis
    assert float(dots[1].get("cx")) > float(dots[0].get("cx"))
    assert root.find(f"{NS}polyline") is not None
    assert "latest 7" in root.get("aria-label")


def test_out_of_range_values_are_clipped_and_out_of_window_points_dropped() -> None:
    root = _svg([Point(START + timedelta(hours=1), 99), Point(START - timedelta(hours=1), 5)])
    dots = root.findall(f"{NS}circle")
    assert len(dots) == 1
    assert float(dots[0].get("cy")) == PAD_TOP


def test_empty_chart_says_no_data_and_target_line_is_drawn() -> None:
    root = _svg([], target=16)
    assert root.find(f"{NS}text[@class='empty']").text == "No data"
    assert root.find(f"{NS}line[@class='target']") is not None


def test_text_is_escaped() -> None:
    svg = time_series_svg([Point(START, 1, '"><script>')], start=START, end=END, y_range=(0, 2), title="<b>")
    assert "<script>" not in svg and "<b>" not in svg
    ET.fromstring(svg)


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError):
        time_series_svg([], start=START, end=END, y_range=(5, 5), title="x")
    with pytest.raises(ValueError):
        time_series_svg([], start=END, end=START, y_range=(0, 1), title="x")
