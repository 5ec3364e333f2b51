"""engine.charts: well-formed, deterministic, escaped SVG histograms and line charts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from lxml import etree

from engine.charts import BOTTOM, HEIGHT, LEFT, RIGHT, WIDTH, histogram_svg, line_svg
from engine.metrics import percentile

NS = {"s": "http://www.w3.org/2000/svg"}
PLOT_W = WIDTH - LEFT - RIGHT


def _parse(svg: str) -> etree._Element:
    root = etree.fromstring(svg.encode())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _bars(root: etree._Element) -> list[etree._Element]:
    return root.xpath("//s:rect[@class='lf-bar']", namespaces=NS)


def _mark_x(root: etree._Element, key: str) -> float:
    line = root.xpath(f"//s:g[contains(@class, 'lf-{key}')]/s:line", namespaces=NS)[0]
    assert line.get("x1") == line.get("x2")
    return float(line.get("x1"))


VALUES = [1.0, 2.0, 2.5, 3.0, 4.0, 4.5, 7.0, 9.0, 10.0, 21.0]


def test_histogram_is_well_formed_with_one_bar_per_bin() -> None:
    for bins in (1, 4, 10, 25):
        root = _parse(histogram_svg(VALUES, title="办结周期", unit="小时", bins=bins))
        bars = _bars(root)
        assert len(bars) == bins
        assert sum(int(b.get("data-count")) for b in bars) == len(VALUES)
    assert histogram_svg(VALUES, title="t", unit="h") == histogram_svg(list(reversed(VALUES)), title="t", unit="h")


def test_bar_heights_are_proportional_to_counts_and_sit_on_the_axis() -> None:
    root = _parse(histogram_svg(VALUES, title="t", unit="h", bins=4))  # edges 1, 6, 11, 16, 21
    bars = _bars(root)
    counts = [int(b.get("data-count")) for b in bars]
    assert counts == [6, 3, 0, 1]
    heights = [float(b.get("height")) for b in bars]
    for count, height in zip(counts, heights, strict=True):
        assert height == pytest.approx(heights[0] * count / counts[0], abs=0.02)
    for bar, height in zip(bars, heights, strict=True):
        assert float(bar.get("y")) + height == pytest.approx(HEIGHT - BOTTOM, abs=0.02)
    assert [b.get("data-lo") for b in bars] == ["1", "6", "11", "16"]
    ticks = [t.text for t in root.xpath("//s:g[@class='lf-x-tick']/s:text", namespaces=NS)]
    assert ticks == ["1", "6", "11", "16", "21"]


def test_median_and_p90_lines_are_at_their_values() -> None:
    root = _parse(histogram_svg(VALUES, title="t", unit="h"))
    lo, hi = min(VALUES), max(VALUES)
    for key, q in (("median", 50), ("p90", 90)):
        value = percentile(VALUES, q)
        assert value is not None
        assert _mark_x(root, key) == pytest.approx(LEFT + (value - lo) / (hi - lo) * PLOT_W, abs=0.01)
        label = root.xpath(f"//s:g[contains(@class, 'lf-{key}')]/s:text", namespaces=NS)[0].text
        assert label.endswith(f" {round(value, 1):g}")
    assert root.xpath("//s:g[contains(@class, 'lf-median')]", namespaces=NS)[0].get("data-value") == "4.25"


def test_one_distinct_value_and_non_finite_values() -> None:
    root = _parse(histogram_svg([5.0, 5.0, float("nan"), float("inf")], title="t", unit="h", bins=3))
    assert [int(b.get("data-count")) for b in _bars(root)] == [0, 2, 0]
    assert _mark_x(root, "median") == pytest.approx(LEFT + PLOT_W / 2, abs=0.01)


@pytest.mark.parametrize("draw", [
    lambda title, unit: histogram_svg([1.0, 2.0], title=title, unit=unit),
    lambda title, unit: line_svg([(date(2026, 3, 2), 1.0)], title=title, unit=unit),
    lambda title, unit: histogram_svg([], title=title, unit=unit),
])
def test_hostile_titles_and_units_are_escaped(draw: object) -> None:
    hostile = '<script>alert(1)</script>"&\x00\x07'
    svg = draw(hostile, "<b>h</b>")  # type: ignore[operator]
    root = _parse(svg)
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert root.find("s:title", NS).text == '<script>alert(1)</script>"&'
    assert not root.xpath("//s:script", namespaces=NS)


def test_empty_series_say_no_data() -> None:
    for svg in (histogram_svg([], title="办结周期", unit="小时"), line_svg([], title="在办", unit="件")):
        root = _parse(svg)
        assert root.xpath("//s:text[@class='lf-empty']", namespaces=NS)[0].text == "暂无数据"
        assert not _bars(root) and not root.xpath("//s:polyline", namespaces=NS)
        assert len(svg) < 1000
    english = histogram_svg([], title="Lead", unit="h", labels={"empty": "No data"})
    assert "No data" in english and "暂无数据" not in english


def test_line_chart_points_min_max_and_date_ticks() -> None:
    start = date(2026, 3, 1)
    values = [0, 2, 5, 3, 3, 1, 4, 2, 0, 1, 2, 2, 3, 1, 0, 1, 1, 2, 3, 2]
    points = [(start + timedelta(days=i), float(v)) for i, v in enumerate(values)]
    svg = line_svg(points, title="在办数量", unit="件")
    assert svg == line_svg(list(reversed(points)), title="在办数量", unit="件")
    root = _parse(svg)
    coords = root.xpath("//s:polyline", namespaces=NS)[0].get("points").split()
    assert len(coords) == len(values)
    xs = [float(c.split(",")[0]) for c in coords]
    ys = [float(c.split(",")[1]) for c in coords]
    assert xs[0] == pytest.approx(LEFT) and xs[-1] == pytest.approx(WIDTH - RIGHT) and xs == sorted(xs)
    assert ys[2] == min(ys) and ys[0] == pytest.approx(HEIGHT - BOTTOM)  # 5 is highest, 0 on the axis
    high = root.xpath("//s:g[contains(@class, 'lf-max')]", namespaces=NS)[0]
    low = root.xpath("//s:g[contains(@class, 'lf-min')]", namespaces=NS)[0]
    assert (high.get("data-value"), high.get("data-day")) == ("5", "2026-03-03")
    assert (low.get("data-value"), low.get("data-day")) == ("0", "2026-03-01")
    assert high.find("s:text", NS).text == "最大 5"
    ticks = [t.text for t in root.xpath("//s:g[@class='lf-x-tick']/s:text", namespaces=NS)]
    assert ticks[0] == "03-01" and ticks[-1] == "03-20" and len(ticks) <= 7
    assert [t.text for t in root.xpath("//s:g[@class='lf-y-tick']/s:text", namespaces=NS)] == ["0", "5"]


def test_line_chart_with_one_point() -> None:
    root = _parse(line_svg([(date(2026, 3, 2), 2.0)], title="t", unit="件"))
    assert root.xpath("//s:circle[@class='lf-point']", namespaces=NS)[0].get("cx") == f"{LEFT + PLOT_W / 2:g}"
    assert [t.text for t in root.xpath("//s:g[@class='lf-x-tick']/s:text", namespaces=NS)] == ["03-02"]
