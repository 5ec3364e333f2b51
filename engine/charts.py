"""Small static SVG charts for the analytics pages: a lead-time histogram and a WIP-over-time line.

Built with lxml like engine/render.py, never by concatenating text, so titles and units are always escaped.
Output is deterministic (fixed size, numbers with at most two decimals) and needs no script or stylesheet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date

from lxml import etree

from engine.metrics import percentile
from engine.render import FONT, SVG

WIDTH, HEIGHT = 560.0, 260.0
LEFT, RIGHT, TOP, BOTTOM = 52.0, 20.0, 44.0, 44.0  # the plot area's margins
FONT_SIZE, TITLE_SIZE = 10.0, 13.0
MAX_TITLE = 80
BAR_FILL, MEDIAN_COLOUR, P90_COLOUR, LINE_COLOUR, AXIS_COLOUR = "#90a4ae", "#1565c0", "#c62828", "#e8710a", "#616161"
HALO = {"stroke": "#fff", "stroke_width": 3, "stroke_linejoin": "round", "paint_order": "stroke"}  # readable over bars
LABELS = {"empty": "暂无数据", "count": "实例数", "median": "中位数", "p90": "p90", "min": "最小", "max": "最大"}
# Characters XML 1.0 cannot carry; lxml refuses them, so caller-supplied text is cleaned first.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: object) -> str:
    """Text fit for XML, at most MAX_TITLE characters."""
    cleaned = _NOT_XML.sub("", str(text or ""))
    return cleaned if len(cleaned) <= MAX_TITLE else cleaned[:MAX_TITLE - 1] + "…"


def _fmt(value: float) -> str:
    """A number with at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _label(value: float) -> str:
    """A number for an axis label: one decimal below 100, none above."""
    return _fmt(round(value, 0 if abs(value) >= 100 else 1))


class _Chart:
    """An SVG chart being drawn: the root, its title, and helpers to add elements."""

    def __init__(self, kind: str, title: str, labels: Mapping[str, str] | None) -> None:
        self.labels = {**LABELS, **(labels or {})}
        self.title = _clean(title)
        self.svg = etree.Element(f"{{{SVG}}}svg", nsmap={None: SVG})
        for name, value in (("viewBox", f"0 0 {_fmt(WIDTH)} {_fmt(HEIGHT)}"), ("width", _fmt(WIDTH)),
                            ("height", _fmt(HEIGHT)), ("font-family", FONT), ("class", f"lf-chart {kind}"),
                            ("role", "img"), ("aria-label", self.title)):
            self.svg.set(name, value)
        heading = etree.SubElement(self.svg, f"{{{SVG}}}title")
        heading.text = self.title
        self.add("text", self.title, x=LEFT, y=TOP - 22, font_size=TITLE_SIZE, font_weight="bold", fill="#212121",
                 class_="lf-chart-title")

    def add(self, tag: str, text: str | None = None, parent: etree._Element | None = None,
            **attrs: object) -> etree._Element:
        """Append an element; attribute names use _ for - (font_size -> font-size), floats are shortened."""
        element = etree.SubElement(self.svg if parent is None else parent, f"{{{SVG}}}{tag}",
                                   {k.rstrip("_").replace("_", "-"): _fmt(v) if isinstance(v, float) else str(v)
                                    for k, v in attrs.items() if v is not None})
        if text is not None:
            element.text = _clean(text)
        return element

    def empty(self) -> str:
        """The chart with only its title and the no-data message."""
        self.svg.set("height", _fmt(TOP + 40))
        self.svg.set("viewBox", f"0 0 {_fmt(WIDTH)} {_fmt(TOP + 40)}")
        self.add("text", self.labels["empty"], x=WIDTH / 2, y=TOP + 16, font_size=TITLE_SIZE, text_anchor="middle",
                 fill="#757575", class_="lf-empty")
        return self.done()

    def axes(self, x_unit: str, y_unit: str) -> None:
        """The x and y axis lines with their unit captions."""
        bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
        self.add("line", x1=LEFT, y1=bottom, x2=right, y2=bottom, stroke=AXIS_COLOUR, class_="lf-axis lf-x-axis")
        self.add("line", x1=LEFT, y1=TOP, x2=LEFT, y2=bottom, stroke=AXIS_COLOUR, class_="lf-axis lf-y-axis")
        if x_unit:
            self.add("text", x_unit, x=right, y=HEIGHT - 6, font_size=FONT_SIZE, text_anchor="end", fill=AXIS_COLOUR,
                     class_="lf-unit")
        if y_unit:
            self.add("text", y_unit, x=LEFT - 6, y=TOP - 10, font_size=FONT_SIZE, text_anchor="end",
                     fill=AXIS_COLOUR, class_="lf-unit")

    def y_tick(self, y: float, text: str, cls: str = "lf-y-tick") -> None:
        """A tick and label on the y axis at plot height y."""
        group = self.add("g", class_=cls)
        self.add("line", parent=group, x1=LEFT - 4, y1=y, x2=LEFT, y2=y, stroke=AXIS_COLOUR)
        self.add("text", text, parent=group, x=LEFT - 6, y=y + FONT_SIZE * 0.35, font_size=FONT_SIZE,
                 text_anchor="end", fill=AXIS_COLOUR)

    def x_tick(self, x: float, text: str) -> None:
        """A tick and label under the x axis at x."""
        bottom = HEIGHT - BOTTOM
        group = self.add("g", class_="lf-x-tick")
        self.add("line", parent=group, x1=x, y1=bottom, x2=x, y2=bottom + 4, stroke=AXIS_COLOUR)
        self.add("text", text, parent=group, x=x, y=bottom + 6 + FONT_SIZE, font_size=FONT_SIZE,
                 text_anchor="middle", fill=AXIS_COLOUR)

    def done(self) -> str:
        return etree.tostring(self.svg, encoding="unicode")


def _y_ticks(top: int) -> list[int]:
    """At most about five integer ticks from 0 to top (inclusive)."""
    step = max(1, math.ceil(top / 5))
    ticks = list(range(0, top + 1, step))
    return ticks if ticks[-1] == top else [*ticks, top]


def histogram_svg(values_hours: list[float], *, title: str, unit: str, bins: int = 10,
                  labels: Mapping[str, str] | None = None) -> str:
    """A histogram of durations: `bins` equal bars over [min, max], bin edges on x, counts on y, and the median
    and p90 drawn as labelled vertical lines. Non-finite values are ignored; no values give a "no data" chart.
    `labels` overrides the chart's words (empty, count, median, p90) for another language."""
    chart = _Chart("lf-histogram", title, labels)
    values = sorted(float(v) for v in values_hours if math.isfinite(v))
    bins = max(1, int(bins))
    if not values:
        return chart.empty()
    lo, hi = values[0], values[-1]
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5  # one distinct value: a unit-wide range centred on it
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(int((v - lo) / width), bins - 1)] += 1
    top = max(counts)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = HEIGHT - BOTTOM

    def x_of(v: float) -> float:
        return LEFT + (v - lo) / (hi - lo) * plot_w

    chart.axes(unit, chart.labels["count"])
    for tick in _y_ticks(top):
        chart.y_tick(bottom - tick / top * plot_h, str(tick))
    bars = chart.add("g", class_="lf-bars")
    bar_w = plot_w / bins
    for i, count in enumerate(counts):
        height = count / top * plot_h
        edge_lo, edge_hi = lo + i * width, lo + (i + 1) * width
        bar = chart.add("rect", parent=bars, x=LEFT + i * bar_w + 1, y=bottom - height, width=max(bar_w - 2, 0.5),
                        height=height, fill=BAR_FILL, class_="lf-bar", data_count=count, data_lo=_fmt(edge_lo),
                        data_hi=_fmt(edge_hi))
        chart.add("title", f"{_label(edge_lo)}–{_label(edge_hi)} {unit}: {count}", parent=bar)
    step = max(1, math.ceil((bins + 1) / 12))  # keep edge labels from overlapping
    for i in range(0, bins + 1, step):
        chart.x_tick(x_of(lo + i * width), _label(lo + i * width))
    if bins % step:
        chart.x_tick(x_of(hi), _label(hi))
    for key, q, colour, dy in (("median", 50, MEDIAN_COLOUR, 0.0), ("p90", 90, P90_COLOUR, 13.0)):
        value = percentile(values, q)
        assert value is not None
        x = x_of(value)
        group = chart.add("g", class_=f"lf-mark lf-{key}", data_value=_fmt(value))
        chart.add("line", parent=group, x1=x, y1=TOP - 2, x2=x, y2=bottom, stroke=colour, stroke_width=1.5,
                  stroke_dasharray="4 3")
        anchor = "end" if x > LEFT + plot_w * 0.75 else "start"
        chart.add("text", f"{chart.labels[key]} {_label(value)}", parent=group, x=x + (-3 if anchor == "end" else 3),
                  y=TOP + 8 + dy, font_size=FONT_SIZE, text_anchor=anchor, fill=colour, font_weight="bold", **HALO)
    return chart.done()


def line_svg(points: list[tuple[date, float]], *, title: str, unit: str,
             labels: Mapping[str, str] | None = None) -> str:
    """A line of a value over days (WIP over time): a polyline on axes from 0 (or below, for negatives) to the
    maximum, the minimum and maximum labelled, and at most seven date ticks including the first and last day."""
    chart = _Chart("lf-line-chart", title, labels)
    series = sorted((d, float(v)) for d, v in points if math.isfinite(v))
    if not series:
        return chart.empty()
    values = [v for _, v in series]
    lo, hi = min(0.0, min(values)), max(values)
    if hi <= lo:
        hi = lo + 1
    first, last = series[0][0].toordinal(), series[-1][0].toordinal()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bottom = HEIGHT - BOTTOM

    def x_of(day: date) -> float:
        return LEFT + plot_w / 2 if last == first else LEFT + (day.toordinal() - first) / (last - first) * plot_w

    def y_of(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * plot_h

    chart.axes("", unit)
    for v in sorted({lo, hi}):
        chart.y_tick(y_of(v), _label(v))
    same_year = series[0][0].year == series[-1][0].year
    n = len(series)
    picks = sorted({round(i * (n - 1) / 6) for i in range(7)}) if n > 7 else list(range(n))
    for i in picks:
        day = series[i][0]
        chart.x_tick(x_of(day), day.strftime("%m-%d") if same_year else day.isoformat())
    coords = " ".join(f"{_fmt(x_of(d))},{_fmt(y_of(v))}" for d, v in series)
    chart.add("polyline", points=coords, fill="none", stroke=LINE_COLOUR, stroke_width=2, stroke_linejoin="round",
              class_="lf-series")
    if n == 1:
        chart.add("circle", cx=x_of(series[0][0]), cy=y_of(series[0][1]), r=3.0, fill=LINE_COLOUR,
                  class_="lf-point")
    low = min(range(n), key=lambda i: (series[i][1], i))
    high = max(range(n), key=lambda i: (series[i][1], -i))
    for key, i, dy in (("max", high, -6.0), ("min", low, 14.0)):
        if key == "min" and i == high:
            continue
        day, v = series[i]
        x = x_of(day)
        anchor = "end" if x > LEFT + plot_w * 0.8 else "start" if x < LEFT + plot_w * 0.2 else "middle"
        group = chart.add("g", class_=f"lf-mark lf-{key}", data_value=_fmt(v), data_day=day.isoformat())
        chart.add("circle", parent=group, cx=x, cy=y_of(v), r=3.0, fill=LINE_COLOUR)
        y = y_of(v) + dy if y_of(v) + dy < bottom - 2 else y_of(v) - 6
        chart.add("text", f"{chart.labels[key]} {_label(v)}", parent=group, x=x, y=y,
                  font_size=FONT_SIZE, text_anchor=anchor, fill="#212121", **HALO)
    return chart.done()
