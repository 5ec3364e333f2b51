"""Draw a BPMN diagram as SVG from its DI: pools, lanes, shapes, flows and labels, coloured by state or metric."""

from __future__ import annotations

import argparse
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from engine.errors import InvalidInput, LeanFlowError
from engine.history import StoredEvent
from engine.loader import read_bpmn_file
from engine.model import BPMN

SVG = "http://www.w3.org/2000/svg"
STATES = ("completed", "active", "waiting", "not_reached")
FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',Arial,Helvetica,sans-serif"

EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
TASKS = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
         "businessRuleTask", "callActivity"}
FLOW_NODES = EVENTS | GATEWAYS | CONTAINERS | TASKS
ICONS = {"userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask"}
DATA = {"dataObjectReference", "dataObject", "dataInput", "dataOutput", "dataStoreReference"}

BAND = 30  # the name strip of a pool or lane, as bpmn.io draws it
MARGIN = 20
TASK_FONT, LABEL_FONT, TITLE_FONT = 12.0, 11.0, 16.0
LINE = 1.25  # line height as a multiple of the font size
MAX_COORD = 1e7  # bounds beyond this are garbage, not a diagram: they would make a useless viewBox
_STEP_EVENTS = {"task_ready", "task_completed", "task_cancelled", "timer_due", "timer_fired", "timer_cancelled"}
_NO_LINE_START = set("，。、：；！？）》」』】〕〉”’,.;:!?)]}%…·")
_NO_LINE_END = set("（《「『【〔〈“‘([{")
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|(?:rgba?|hsla?)\([0-9.,%\s/a-z+-]*\)"
                     r"|[a-zA-Z]{3,30}")
# Characters XML 1.0 cannot carry; lxml refuses them, so caller-supplied text is cleaned first.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_CSS = """
.lf-shape { stroke-linejoin: round; }
.lf-line { fill: none; stroke-linejoin: round; }
.state-completed .lf-shape { fill: #e4f4e1; stroke: #2e7d32; }
.state-completed .lf-ring { stroke: #2e7d32; }
.state-active .lf-shape { fill: #fff0d9; stroke: #e8710a; stroke-width: 3.5px; }
.state-active .lf-ring { stroke: #e8710a; }
.state-waiting .lf-shape { fill: #e3f0fc; stroke: #1565c0; stroke-width: 2.5px; stroke-dasharray: 5 3; }
.state-waiting .lf-ring { stroke: #1565c0; }
.state-not_reached .lf-shape { fill: #f4f4f4; stroke: #9e9e9e; }
.state-not_reached .lf-ring { stroke: #9e9e9e; }
.state-not_reached .lf-glyph, .state-not_reached .lf-text { opacity: 0.5; }
.state-active .lf-text { font-weight: bold; }
.lf-highlight { fill: none; stroke: #c2185b; stroke-width: 5px; stroke-opacity: 0.85; }
.lf-badge rect { fill: #37474f; stroke: #fff; stroke-width: 1px; }
.lf-badge text { fill: #fff; font-weight: bold; }
"""


class NoDiagram(LeanFlowError):
    """The document has no diagram interchange (BPMNDiagram, BPMNPlane and shapes) to draw."""

    def __init__(self, filename: str | None = None, detail: str = "") -> None:
        where = f"{filename}: " if filename else ""
        super().__init__(f"{where}this file has no diagram (BPMN DI){detail}; "
                         f"lay it out with `leanflow layout {filename or 'FILE'}`")
        self.filename = filename
        self.detail = detail


@dataclass(frozen=True)
class ElementState:
    """What an instance's history says about one BPMN element: its state and how often it got there."""

    state: str  # one of STATES
    entered: int = 0  # times the task became ready or the timer started waiting
    completed: int = 0  # times the task was completed or the timer fired
    cancelled: int = 0


@dataclass(frozen=True)
class Overlay:
    """A per-element decoration (heatmaps): a fill colour, a small badge and a tooltip line."""

    fill: str | None = None
    badge: str | None = None
    title: str | None = None


def element_states(events: Iterable[StoredEvent]) -> dict[str, ElementState]:
    """Each BPMN element id the history mentions, with its state: open tokens win, then completion."""
    open_: dict[str, dict[str, str]] = {}  # spec -> open token (Spiff task id) -> "active" | "waiting"
    counts: dict[str, list[int]] = {}  # spec -> [entered, completed, cancelled]
    for event in events:
        if event.type in ("instance_completed", "instance_cancelled"):
            open_.clear()  # nothing waits any more, whatever the last step recorded
            continue
        spec = event.payload.get("spec") if isinstance(event.payload, dict) else None
        if event.type not in _STEP_EVENTS or not isinstance(spec, str) or not spec:
            continue
        token = event.task_id or spec
        tokens = open_.setdefault(spec, {})
        count = counts.setdefault(spec, [0, 0, 0])
        if event.type in ("task_ready", "timer_due"):
            tokens[token] = "active" if event.type == "task_ready" else "waiting"
            count[0] += 1
        elif event.type in ("task_completed", "timer_fired"):
            tokens.pop(token, None)
            count[1] += 1
        elif event.type in ("task_cancelled", "timer_cancelled"):
            tokens.pop(token, None)
            count[2] += 1
    out: dict[str, ElementState] = {}
    for spec, (entered, completed, cancelled) in counts.items():
        now = sorted(set(open_.get(spec, {}).values()))  # "active" before "waiting": a task outranks a timer
        state = now[0] if now else "completed" if completed else "not_reached"
        out[spec] = ElementState(state, entered, completed, cancelled)
    return out


def states_from_history(events: Iterable[StoredEvent]) -> dict[str, str]:
    """Element id -> "completed" | "active" | "waiting" | "not_reached" from an instance's history."""
    return {spec: s.state for spec, s in element_states(events).items()}


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in diagram coordinates."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True)
class _Shape:
    """A BPMNShape resolved to its BPMN element."""

    id: str
    element: etree._Element
    kind: str
    box: Rect
    label: Rect | None
    di: etree._Element


@dataclass(frozen=True)
class _Edge:
    """A BPMNEdge resolved to its BPMN element, with at least two waypoints."""

    id: str
    element: etree._Element
    kind: str
    points: tuple[tuple[float, float], ...]
    label: Rect | None


# -- reading the DI ------------------------------------------------------------------------------------------


def _local(element: etree._Element) -> str:
    """Local name of an element ('' for comments and processing instructions)."""
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _bpmn(element: etree._Element) -> str:
    """Local name of a BPMN model element, '' for anything else."""
    return _local(element) if isinstance(element.tag, str) and element.tag.startswith(f"{{{BPMN}}}") else ""


def _di(element: etree._Element) -> str:
    """Local name of a DI element in whatever namespace and prefix the modeler used ('' for BPMN model ones)."""
    return "" if _bpmn(element) else _local(element)


def _number(value: str | None) -> float | None:
    """A finite coordinate, or None for missing or garbage values."""
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_COORD else None


def _bounds(parent: etree._Element) -> Rect | None:
    """The dc:Bounds directly under a DI element, if present and sane."""
    found = next((c for c in parent if _di(c) == "Bounds"), None)
    if found is None:
        return None
    x, y, w, h = (_number(found.get(k)) for k in ("x", "y", "width", "height"))
    if x is None or y is None or w is None or h is None or w < 0 or h < 0:
        return None
    return Rect(x, y, w, h)


def _label_bounds(parent: etree._Element) -> Rect | None:
    """The bounds of a BPMNLabel; Signavio and Bizagi often write the label without any."""
    label = next((c for c in parent if _di(c) == "BPMNLabel"), None)
    box = _bounds(label) if label is not None else None
    return box if box is not None and box.w > 0 and box.h > 0 else None


def _resolve(ref: str | None, ids: Mapping[str, etree._Element]) -> str | None:
    """The id a bpmnElement names; some exporters write it as a prefixed QName (tns:Task_1)."""
    ref = (ref or "").strip()
    if ref in ids:
        return ref
    if ":" in ref and ref.rsplit(":", 1)[1] in ids:
        return ref.rsplit(":", 1)[1]
    return None


def _flag(di: etree._Element, name: str) -> bool | None:
    """A boolean DI attribute (isHorizontal, isExpanded, isMarkerVisible), None when absent."""
    value = di.get(name)
    return None if value is None else value.strip().lower() in ("true", "1")


def _choose_plane(root: etree._Element, ids: Mapping[str, etree._Element]) -> etree._Element:
    """The plane to draw: the one showing the collaboration or executable process, else the first with shapes."""
    planes = [p for d in root.iter() if _di(d) == "BPMNDiagram" for p in d if _di(p) == "BPMNPlane"]
    if not planes:
        raise NoDiagram()
    executable = {p.get("id") for p in root.iter(f"{{{BPMN}}}process") if p.get("isExecutable") == "true"}

    def score(plane: etree._Element) -> int:
        if not any(_di(s) == "BPMNShape" and _resolve(s.get("bpmnElement"), ids) for s in plane.iter()):
            return 0
        ref = _resolve(plane.get("bpmnElement"), ids)
        target = ids[ref] if ref else None
        kind = _bpmn(target) if target is not None else ""
        if kind == "collaboration":
            pools = {p.get("processRef") for p in target.iter(f"{{{BPMN}}}participant")}
            return 5 if pools & executable else 3
        if kind == "process":
            return 4 if ref in executable else 2
        return 1  # a sub-process drill-down (bpmn.io, Bizagi) or a plane naming nothing

    scored = [(score(p), -i, p) for i, p in enumerate(planes)]
    best = max(scored, key=lambda t: (t[0], t[1]))
    if best[0] == 0:
        raise NoDiagram(detail=" — its diagram has no shapes")
    return best[2]


def _read(root: etree._Element) -> tuple[list[_Shape], list[_Edge], dict[str, etree._Element]]:
    """The shapes and edges of the chosen plane; DI naming unknown elements or lacking bounds is skipped."""
    ids = {e.get("id"): e for e in root.iter() if _bpmn(e) and e.get("id")}
    plane = _choose_plane(root, ids)
    shapes: list[_Shape] = []
    edges: list[_Edge] = []
    seen: set[str] = set()
    for di in plane.iter():
        name = _di(di)
        ref = _resolve(di.get("bpmnElement"), ids) if name in ("BPMNShape", "BPMNEdge") else None
        if ref is None or ref in seen:
            continue
        element = ids[ref]
        if name == "BPMNShape" and (box := _bounds(di)) is not None:
            seen.add(ref)
            shapes.append(_Shape(ref, element, _bpmn(element), box, _label_bounds(di), di))
        elif name == "BPMNEdge":
            points = [(_number(w.get("x")), _number(w.get("y"))) for w in di if _di(w) == "waypoint"]
            clean = tuple((x, y) for x, y in points if x is not None and y is not None)
            if len(clean) >= 2:
                seen.add(ref)
                edges.append(_Edge(ref, element, _bpmn(element), clean, _label_bounds(di)))
    if not shapes:
        raise NoDiagram(detail=" — its diagram has no shapes")
    return shapes, edges, ids


# -- text ----------------------------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    """Text fit for XML: characters XML cannot carry are dropped."""
    return _NOT_XML.sub("", text or "")


def _wide(ch: str) -> bool:
    """Whether a character is full width (CJK ideographs, kana, full-width forms)."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _char_width(ch: str, size: float) -> float:
    """Estimated advance of one character in a sans-serif font: CJK is square, Latin varies."""
    if _wide(ch):
        return size
    if ch in " il.,:;'|!`":
        return 0.28 * size
    if ch in "fjrtI()[]{}-/\"":
        return 0.36 * size
    if ch in "mwMW@%":
        return 0.85 * size
    if ch.isupper():
        return 0.66 * size
    return 0.55 * size


def _width(text: str, size: float) -> float:
    """Estimated width of a line of text."""
    return sum(_char_width(ch, size) for ch in text)


def _tokens(text: str) -> list[str]:
    """Break opportunities: every CJK character stands alone; Latin words keep their trailing spaces."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if _wide(ch):
            if word:
                tokens.append(word)
            tokens.append(ch)
            word = ""
        elif ch.isspace():
            tokens.append(word + ch)
            word = ""
        else:
            word += ch
    return tokens + [word] if word else tokens


def wrap(text: str, width: float, size: float) -> list[str]:
    """Lines of text no wider than width (CJK breaks anywhere, Latin at spaces, over-long words are cut)."""
    lines: list[str] = []
    for paragraph in _clean(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = ""
        for token in _tokens(paragraph):
            if not line.strip():
                line = ""
                if token.isspace():
                    continue
            if line and (_width((line + token).rstrip(), size) <= width or token[0] in _NO_LINE_START):
                line += token  # closing punctuation never starts a line, even if it overhangs a little
                continue
            if line:
                kept = line.rstrip()
                if len(kept) > 1 and kept[-1] in _NO_LINE_END:  # an opening bracket goes down with its text
                    kept, token = kept[:-1], kept[-1] + token
                lines.append(kept)
            while len(token.rstrip()) > 1 and _width(token.rstrip(), size) > width:
                cut = 1
                while cut < len(token) and _width(token[:cut + 1], size) <= width:
                    cut += 1
                lines.append(token[:cut])
                token = token[cut:]
            line = token
        if line.strip():
            lines.append(line.rstrip())
    return lines


def _fit(lines: list[str], max_lines: int, width: float, size: float) -> list[str]:
    """At most max_lines lines; the last one cut short with an ellipsis when text was dropped."""
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max(1, max_lines)]
    last = kept[-1]
    while last and _width(last + "…", size) > width:
        last = last[:-1]
    return kept[:-1] + [last.rstrip() + "…"]


def _fmt(value: object) -> str:
    """Attribute text: numbers with at most two decimals, so output is short and deterministic."""
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


# -- drawing -------------------------------------------------------------------------------------------------


def _points(points: Iterable[tuple[float, float]]) -> str:
    """Coordinates as SVG points text: 'x,y x,y'."""
    return " ".join(f"{_fmt(float(x))},{_fmt(float(y))}" for x, y in points)


class _Canvas:
    """An SVG tree being drawn, tracking how far the drawing extends."""

    def __init__(self) -> None:
        self.svg = etree.Element(f"{{{SVG}}}svg", nsmap={None: SVG})
        self.extent: list[Rect] = []

    def add(self, parent: etree._Element, tag: str, text: str | None = None, **attrs: object) -> etree._Element:
        """Append an SVG element; attribute names use _ for - (stroke_width -> stroke-width)."""
        element = etree.SubElement(parent, f"{{{SVG}}}{tag}",
                                   {k.rstrip("_").replace("_", "-"): _fmt(v) for k, v in attrs.items()
                                    if v is not None})
        if text is not None:
            element.text = _clean(text)
        return element

    def text(self, parent: etree._Element, lines: list[str], x: float, y: float, size: float, *,
             anchor: str = "middle", top: bool = False, transform: str | None = None,
             halo: bool = False, step: float | None = None) -> None:
        """Lines centred on (x, y), or hanging from y when top; extent is recorded unless rotated."""
        if not lines:
            return
        step = step or size * LINE
        first = y + step / 2 if top else y - (len(lines) - 1) * step / 2
        # A white halo keeps a label readable where a flow or a group's border runs through it.
        outline = {"stroke": "#fff", "stroke_width": 3, "stroke_linejoin": "round", "paint_order": "stroke"}
        node = self.add(parent, "text", x=x, font_size=size, text_anchor=anchor, fill="#212121",
                        transform=transform, class_="lf-text", **(outline if halo else {}))
        for i, line in enumerate(lines):
            self.add(node, "tspan", line, x=x, y=first + i * step + size * 0.35)
        if transform is None:
            width = max(_width(line, size) for line in lines)
            left = x - width / 2 if anchor == "middle" else x if anchor == "start" else x - width
            self.extent.append(Rect(left, first - step / 2, width, len(lines) * step))


def _shape_rect(c: _Canvas, g: etree._Element, box: Rect, rx: float = 0, **attrs: object) -> etree._Element:
    """A rect covering a box, rounded by rx."""
    return c.add(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=rx or None, **attrs)


_WHITE = {"fill": "#fff", "stroke": "#212121", "stroke_width": 1.5}


def _icon(c: _Canvas, g: etree._Element, kind: str, x: float, y: float) -> None:
    """The small type icon in a task's top-left corner, drawn in a 16x16 box."""
    icon = c.add(g, "g", transform=f"translate({_fmt(x)} {_fmt(y)})", class_="lf-glyph", fill="#fff",
                 stroke="#212121", stroke_width=1)
    if kind == "userTask":
        c.add(icon, "path", d="M1,16 C1,9.5 15,9.5 15,16 Z")
        c.add(icon, "circle", cx=8, cy=5, r=3.5)
    elif kind == "scriptTask":
        c.add(icon, "path", d="M3,15 C8,11 0,7 5,1 H14 C9,7 17,11 12,15 Z")
        c.add(icon, "path", d="M6,4.5 H11 M5.5,7.5 H10.5 M6.5,10.5 H11.5", fill="none")
    elif kind == "serviceTask":
        teeth = " ".join(f"M{_fmt(8 + 5 * math.cos(a))},{_fmt(8 + 5 * math.sin(a))} "
                         f"L{_fmt(8 + 7.5 * math.cos(a))},{_fmt(8 + 7.5 * math.sin(a))}"
                         for a in (i * math.pi / 4 for i in range(8)))
        c.add(icon, "path", d=teeth, stroke_width=2.5)
        c.add(icon, "circle", cx=8, cy=8, r=5)
        c.add(icon, "circle", cx=8, cy=8, r=2)
    elif kind == "manualTask":
        c.add(icon, "path", d="M1,7.5 H5 L8.5,3 H11 L9.5,6 H15.5 V8 H12 M15,8 V10 H12 M14.5,10 V12 H12 "
                              "M13.5,12 V14 H1 Z", stroke_linejoin="round")
    elif kind in ("sendTask", "receiveTask"):
        send = kind == "sendTask"
        c.add(icon, "rect", x=0.5, y=3, width=15, height=10, fill="#212121" if send else "#fff")
        c.add(icon, "path", d="M0.5,3 L8,9 L15.5,3", fill="none", stroke="#fff" if send else "#212121")
    elif kind == "businessRuleTask":
        c.add(icon, "rect", x=0.5, y=2, width=15, height=12)
        c.add(icon, "rect", x=0.5, y=2, width=15, height=3.5, fill="#9e9e9e")
        c.add(icon, "path", d="M0.5,9.5 H15.5 M4.5,5.5 V14", fill="none")


def _bottom_markers(c: _Canvas, g: etree._Element, shape: _Shape, collapsed: bool) -> None:
    """Markers centred under an activity's label: sub-process +, loop, multi-instance, ad hoc, compensation."""
    e, box = shape.element, shape.box
    marks: list[str] = []
    loop = next((ch for ch in e if _bpmn(ch).endswith("LoopCharacteristics")), None)
    if e.get("isForCompensation") == "true":
        marks.append("compensation")
    if loop is not None and _bpmn(loop) == "standardLoopCharacteristics":
        marks.append("loop")
    elif loop is not None:
        marks.append("sequential" if loop.get("isSequential") == "true" else "parallel")
    if collapsed:
        marks.append("collapsed")
    if shape.kind == "adHocSubProcess":
        marks.append("adhoc")
    size, gap = 14.0, 4.0
    x0 = box.cx - (len(marks) * size + (len(marks) - 1) * gap) / 2
    y0 = box.bottom - size - 4
    for i, mark in enumerate(marks):
        x = x0 + i * (size + gap)
        m = c.add(g, "g", transform=f"translate({_fmt(x)} {_fmt(y0)})", class_="lf-glyph", fill="none",
                  stroke="#212121", stroke_width=1.5)
        if mark == "collapsed":
            c.add(m, "rect", x=0, y=0, width=14, height=14, fill="#fff", stroke_width=1)
            c.add(m, "path", d="M7,3 V11 M3,7 H11")
        elif mark == "parallel":
            c.add(m, "path", d="M3,1 V13 M7,1 V13 M11,1 V13", stroke_width=2)
        elif mark == "sequential":
            c.add(m, "path", d="M1,3 H13 M1,7 H13 M1,11 H13", stroke_width=2)
        elif mark == "loop":
            c.add(m, "path", d="M4,12 A5.5,5.5 0 1 1 10,12 M10,12 L10,8 M10,12 L14,12")
        elif mark == "adhoc":
            c.add(m, "path", d="M1,8 C4,3 6,3 7,7 C8,11 10,11 13,6")
        elif mark == "compensation":
            c.add(m, "path", d="M7,2 L1,7 L7,12 Z M13,2 L7,7 L13,12 Z", stroke_width=1)


def _event_glyph(c: _Canvas, g: etree._Element, shape: _Shape, cx: float, cy: float, r: float) -> None:
    """The trigger drawn inside an event: filled when it throws, outlined when it catches."""
    kinds = [_bpmn(d)[:-len("EventDefinition")] for d in shape.element if _bpmn(d).endswith("EventDefinition")]
    kinds += ["" for _ in shape.element.iterfind(f"{{{BPMN}}}eventDefinitionRef")]  # referenced: kind unknown
    if not kinds:
        return
    throw = shape.kind in ("endEvent", "intermediateThrowEvent")
    ink = "#212121"
    fill = ink if throw else "#fff"
    s = r / 18

    def pts(*xy: float) -> str:
        return _points((cx + xy[i] * s, cy + xy[i + 1] * s) for i in range(0, len(xy), 2))

    glyph = c.add(g, "g", class_="lf-glyph", fill=fill, stroke=ink, stroke_width=1.2)
    kind = kinds[0] if len(kinds) == 1 else "parallel" if shape.element.get("parallelMultiple") == "true" \
        else "multiple"
    if kind == "timer":
        c.add(glyph, "circle", cx=cx, cy=cy, r=11 * s, fill="#fff", stroke_width=1.5)
        ticks = " ".join(f"M{_fmt(cx + 9 * s * math.cos(a))},{_fmt(cy + 9 * s * math.sin(a))} "
                         f"L{_fmt(cx + 11 * s * math.cos(a))},{_fmt(cy + 11 * s * math.sin(a))}"
                         for a in (i * math.pi / 6 for i in range(12)))
        c.add(glyph, "path", d=ticks, fill="none", stroke_width=1)
        c.add(glyph, "path", d=f"M{pts(0, -7.5)} L{pts(0, 0)} L{pts(5.5, 2.5)}", fill="none", stroke_width=1.5)
    elif kind == "message":
        c.add(glyph, "polygon", points=pts(-8, -5.5, 8, -5.5, 8, 5.5, -8, 5.5))
        c.add(glyph, "polyline", points=pts(-8, -5.5, 0, 1, 8, -5.5), fill="none", stroke="#fff" if throw else ink)
    elif kind == "signal":
        c.add(glyph, "polygon", points=pts(0, -10, 9, 6, -9, 6))
    elif kind == "error":
        c.add(glyph, "polygon", points=pts(-9, 8, -4, -8, 1, 1, 8, -9, 4, 8, -1, -1))
    elif kind == "escalation":
        c.add(glyph, "polygon", points=pts(0, -10, 7, 8, 0, 2, -7, 8))
    elif kind == "terminate":
        c.add(glyph, "circle", cx=cx, cy=cy, r=10 * s, fill=ink)
    elif kind == "conditional":
        c.add(glyph, "polygon", points=pts(-6, -9, 6, -9, 6, 9, -6, 9), fill="#fff")
        c.add(glyph, "path", d=f"M{pts(-4, -5, 4, -5)} M{pts(-4, -1, 4, -1)} M{pts(-4, 3, 4, 3)} "
                               f"M{pts(-4, 6.5, 4, 6.5)}", fill="none")
    elif kind == "link":
        c.add(glyph, "polygon", points=pts(-8, -3, 2, -3, 2, -8, 9, 0, 2, 8, 2, 3, -8, 3))
    elif kind == "compensate":
        c.add(glyph, "polygon", points=pts(-10, 0, -1, -6, -1, 6))
        c.add(glyph, "polygon", points=pts(-1, 0, 8, -6, 8, 6))
    elif kind == "cancel":
        c.add(glyph, "path", d=f"M{pts(-7, -7)} L{pts(7, 7)} M{pts(7, -7)} L{pts(-7, 7)}", stroke_width=3.5)
    elif kind == "multiple":
        c.add(glyph, "polygon", points=pts(0, -10, 9.5, -3, 6, 8, -6, 8, -9.5, -3))
    elif kind == "parallel":
        c.add(glyph, "polygon", points=pts(-3, -10, 3, -10, 3, -3, 10, -3, 10, 3, 3, 3, 3, 10, -3, 10, -3, 3,
                                           -10, 3, -10, -3, -3, -3), fill="#fff")


def _gateway_marker(c: _Canvas, g: etree._Element, shape: _Shape) -> None:
    """X, +, O, pentagon or asterisk inside a gateway's diamond."""
    box, kind = shape.box, shape.kind
    s = min(box.w, box.h) / 50
    cx, cy = box.cx, box.cy
    glyph = c.add(g, "g", class_="lf-glyph", fill="none", stroke="#212121", stroke_width=3.5 * s,
                  stroke_linecap="round")

    def line(x1: float, y1: float, x2: float, y2: float) -> str:
        return f"M{_fmt(cx + x1 * s)},{_fmt(cy + y1 * s)} L{_fmt(cx + x2 * s)},{_fmt(cy + y2 * s)}"

    if kind == "exclusiveGateway" and _flag(shape.di, "isMarkerVisible") is not False:
        c.add(glyph, "path", d=f"{line(-8, -8, 8, 8)} {line(8, -8, -8, 8)}")
    elif kind == "parallelGateway":
        c.add(glyph, "path", d=f"{line(0, -11, 0, 11)} {line(-11, 0, 11, 0)}")
    elif kind == "inclusiveGateway":
        c.add(glyph, "circle", cx=cx, cy=cy, r=10 * s, stroke_width=2.5 * s)
    elif kind == "complexGateway":
        c.add(glyph, "path", d=f"{line(0, -11, 0, 11)} {line(-11, 0, 11, 0)} {line(-8, -8, 8, 8)} "
                               f"{line(8, -8, -8, 8)}", stroke_width=3 * s)
    elif kind == "eventBasedGateway":
        c.add(glyph, "circle", cx=cx, cy=cy, r=12 * s, stroke_width=1)
        if shape.element.get("instantiate") != "true":
            c.add(glyph, "circle", cx=cx, cy=cy, r=9.5 * s, stroke_width=1)
        pentagon = [(0, -6.5), (6.2, -2), (3.8, 5.3), (-3.8, 5.3), (-6.2, -2)]
        c.add(glyph, "polygon", points=_points((cx + x * s, cy + y * s) for x, y in pentagon), stroke_width=1.2)


def _defs(c: _Canvas) -> None:
    """Arrowheads and end markers shared by every flow; userSpaceOnUse keeps them one size."""
    defs = c.add(c.svg, "defs")
    specs = [
        ("lf-arrow", "M1,4 L12,10 L1,16 Z", 12, "#212121", "#212121"),
        ("lf-arrow-open", "M1,4 L12,10 L1,16 Z", 12, "#fff", "#212121"),
        ("lf-arrow-line", "M1,4 L12,10 L1,16", 12, "none", "#212121"),
        ("lf-arrow-line-start", "M19,4 L8,10 L19,16", 8, "none", "#212121"),
        ("lf-circle", "M2,10 A5,5 0 1 1 12,10 A5,5 0 1 1 2,10 Z", 2, "#fff", "#212121"),
        ("lf-diamond", "M1,10 L8,5 L15,10 L8,15 Z", 1, "#fff", "#212121"),
    ]
    for marker_id, d, ref_x, fill, stroke in specs:
        marker = c.add(defs, "marker", id=marker_id, viewBox="0 0 20 20", refX=ref_x, refY=10, markerWidth=14,
                       markerHeight=14, markerUnits="userSpaceOnUse", orient="auto")
        c.add(marker, "path", d=d, fill=fill, stroke=stroke, stroke_width=1.5, stroke_linejoin="round")


def _state_of(value: str | ElementState) -> tuple[str, str]:
    """A state's name and its tooltip text; an unknown state is a programming error."""
    name = value.state if isinstance(value, ElementState) else value
    if name not in STATES:
        raise ValueError(f"unknown state {name!r}; expected one of {', '.join(STATES)}")
    text = name.replace("_", " ")
    if isinstance(value, ElementState):
        done = f", completed {value.completed}×" if value.completed > 1 else ""
        gone = f", cancelled {value.cancelled}×" if value.cancelled else ""
        text += done + gone
    return name, text


def _dark(colour: str) -> bool:
    """Whether a #hex or rgb() colour is dark enough to need white text (other notations: assume light)."""
    value = colour.strip().lower()
    if re.fullmatch(r"#[0-9a-f]{3,4}", value):
        channels = [int(ch * 2, 16) for ch in value[1:4]]
    elif re.fullmatch(r"#[0-9a-f]{6}(?:[0-9a-f]{2})?", value):
        channels = [int(value[i:i + 2], 16) for i in (1, 3, 5)]
    elif match := re.fullmatch(r"rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+).*\)", value):
        channels = [min(255, int(v)) for v in match.groups()]
    else:
        return False
    red, green, blue = channels
    return 0.299 * red + 0.587 * green + 0.114 * blue < 140


def _colour(value: str) -> str:
    """A fill colour safe to place in a style attribute (no url(), no CSS injection)."""
    if not _COLOUR.fullmatch(value.strip()):
        raise ValueError(f"not a colour: {value!r} (use #rgb, #rrggbb, rgb(), hsl() or a colour name)")
    return value.strip()


class _Renderer:
    """Draws one diagram: layers from pools at the back to labels, badges and the highlight at the front."""

    def __init__(self, shapes: list[_Shape], edges: list[_Edge], ids: dict[str, etree._Element],
                 states: Mapping[str, str | ElementState] | None, overlays: Mapping[str, Overlay]) -> None:
        self.shapes, self.edges, self.ids = shapes, edges, ids
        self.states, self.overlays = states, overlays
        self.c = _Canvas()
        self.main: dict[str, etree._Element] = {}  # element id -> its main outline, which overlays fill
        self.labels: list[tuple[str, str, Callable[[etree._Element], None]]] = []
        self.ends = [p for e in edges for p in (e.points[0], e.points[-1])]

    # -- helpers

    def _group(self, layer: etree._Element, item: _Shape | _Edge, flow_node: bool) -> etree._Element:
        """The <g> of one element: its id, type and state for the UI, and a tooltip."""
        classes = ["lf-el", f"lf-{item.kind or 'other'}"]
        tooltip = [_clean(item.element.get("name")) or item.id]
        state = self.states.get(item.id) if self.states is not None else None
        if state is None and self.states is not None and flow_node:
            state = "not_reached"
        if state is not None:
            name, text = _state_of(state)
            classes.append(f"state-{name}")
            tooltip.append(text)
        overlay = self.overlays.get(item.id)
        if overlay is not None and overlay.title:
            tooltip.append(_clean(overlay.title))
        g = self.c.add(layer, "g", class_=" ".join(classes), data_element_id=_clean(item.id))
        self.c.add(g, "title", "\n".join(tooltip))
        return g

    def _state_class(self, item_id: str, flow_node: bool) -> str:
        """The state class an element's outside label carries ('' without states)."""
        state = self.states.get(item_id) if self.states is not None else None
        if state is None:
            return "state-not_reached" if self.states is not None and flow_node else ""
        return f"state-{_state_of(state)[0]}"

    def _name(self, element: etree._Element) -> str:
        """The text to show: the name, or for a group its category value, or an annotation's text."""
        kind = _bpmn(element)
        if kind == "group" and not element.get("name"):
            value = self.ids.get(element.get("categoryValueRef", ""))
            return value.get("value", "") if value is not None else ""
        if kind == "textAnnotation":
            text = element.find(f"{{{BPMN}}}text")
            return (text.text or "") if text is not None else element.get("text", "")
        return element.get("name", "")

    def _horizontal(self, shape: _Shape) -> bool:
        """Pools and lanes lie horizontally unless the DI says otherwise; without the flag, trust the shape."""
        flag = _flag(shape.di, "isHorizontal")
        return flag if flag is not None else shape.box.w >= shape.box.h

    def _expanded(self, shape: _Shape) -> bool:
        """Whether a sub-process is drawn open: the DI flag, else (flag omitted) a big box with children inside."""
        flag = _flag(shape.di, "isExpanded")
        if flag is not None:
            return flag
        box = shape.box
        if box.w <= 150 or box.h <= 100:
            return False
        inner = {c.get("id") for c in shape.element if _bpmn(c) in FLOW_NODES | DATA}
        return any(s.id in inner and box.x <= s.box.cx <= box.right and box.y <= s.box.cy <= box.bottom
                   for s in self.shapes)

    # -- shapes

    def _band_name(self, g: etree._Element, shape: _Shape, horizontal: bool) -> None:
        """A pool's or lane's name in its strip (two tight lines at most): rotated on the left, or across the top."""
        box, name = shape.box, self._name(shape.element)
        band = Rect(box.x, box.y, min(BAND, box.w), box.h) if horizontal else Rect(box.x, box.y, box.w,
                                                                                    min(BAND, box.h))
        length = (band.h if horizontal else band.w) - 16
        lines = _fit(wrap(name, length, TASK_FONT), 2 if band.w >= BAND or not horizontal else 1, length, TASK_FONT)
        rotate = f"rotate(-90 {_fmt(band.cx)} {_fmt(band.cy)})" if horizontal else None
        self.c.text(g, lines, band.cx, band.cy, TASK_FONT, transform=rotate, step=TASK_FONT * 1.1)

    def _pool(self, layer: etree._Element, shape: _Shape) -> None:
        """A participant: box, name strip and separator; a black-box pool has its name in the middle."""
        g = self._group(layer, shape, False)
        box = shape.box
        self.main[shape.id] = _shape_rect(self.c, g, box, class_="lf-shape", **_WHITE)
        black_box = not shape.element.get("processRef") if _flag(shape.di, "isExpanded") is None \
            else not _flag(shape.di, "isExpanded")
        multiple = shape.element.find(f"{{{BPMN}}}participantMultiplicity")
        if multiple is not None and multiple.get("maximum", "2") != "1":
            self.c.add(g, "path", d=f"M{_fmt(box.cx - 6)},{_fmt(box.bottom - 14)} v10 m6,-10 v10 m6,-10 v10",
                       stroke="#212121", stroke_width=2, class_="lf-glyph")
        if black_box:
            lines = _fit(wrap(self._name(shape.element), box.w - 20, TASK_FONT), 2, box.w - 20, TASK_FONT)
            self.c.text(g, lines, box.cx, box.cy, TASK_FONT)
            return
        horizontal = self._horizontal(shape)
        d = f"M{_fmt(box.x + BAND)},{_fmt(box.y)} V{_fmt(box.bottom)}" if horizontal \
            else f"M{_fmt(box.x)},{_fmt(box.y + BAND)} H{_fmt(box.right)}"
        self.c.add(g, "path", d=d, stroke="#212121", stroke_width=1.5, class_="lf-ring")
        self._band_name(g, shape, horizontal)

    def _lane(self, layer: etree._Element, shape: _Shape) -> None:
        """A lane: its box and its name in the strip on its left (or top)."""
        g = self._group(layer, shape, False)
        self.main[shape.id] = _shape_rect(self.c, g, shape.box, class_="lf-shape", fill="none", stroke="#212121",
                                          stroke_width=1.5)
        self._band_name(g, shape, self._horizontal(shape))

    def _activity(self, layer: etree._Element, shape: _Shape) -> None:
        """Tasks, call activities and sub-processes: rounded boxes with icon, markers and the name inside."""
        g = self._group(layer, shape, True)
        box, kind, e = shape.box, shape.kind, shape.element
        container = kind in CONTAINERS
        expanded = container and self._expanded(shape)
        attrs: dict[str, object] = dict(_WHITE)
        if kind == "callActivity":
            attrs["stroke_width"] = 4
        if container and e.get("triggeredByEvent") == "true":
            attrs["stroke_dasharray"] = "2 3"
        if expanded:
            attrs["fill"] = "#fff"
            attrs["fill_opacity"] = 0.6  # the background of the nested flow; lanes may show through
        self.main[shape.id] = _shape_rect(self.c, g, box, rx=10, class_="lf-shape", **attrs)
        if kind == "transaction":
            inner = Rect(box.x + 3, box.y + 3, max(0, box.w - 6), max(0, box.h - 6))
            _shape_rect(self.c, g, inner, rx=8, fill="none", stroke="#212121", stroke_width=1, class_="lf-ring")
        collapsed = (container and not expanded) or (kind == "callActivity" and _flag(shape.di, "isExpanded")
                                                      is not True)
        _icon(self.c, g, kind, box.x + 6, box.y + 6)
        _bottom_markers(self.c, g, shape, collapsed)
        name = self._name(e)
        if expanded:
            lines = _fit(wrap(name, box.w - 16, TASK_FONT), 2, box.w - 16, TASK_FONT)
            self.c.text(g, lines, box.x + 8, box.y + 4, TASK_FONT, anchor="start", top=True, halo=True)
            return
        has_marker = collapsed or any(_bpmn(ch).endswith("LoopCharacteristics") for ch in e) \
            or kind == "adHocSubProcess" or e.get("isForCompensation") == "true"
        has_icon = kind in ICONS
        # The name is centred, but moves down rather than run over the type icon, and never into the markers.
        top = box.y + (22 if has_icon else 4)
        bottom = box.bottom - (22 if has_marker else 4)
        width, step = box.w - 12, TASK_FONT * LINE
        lines = _fit(wrap(name, width, TASK_FONT), max(1, int((bottom - top) // step)), width, TASK_FONT)
        centre = box.cy - (9 if has_marker else 0)
        centre = max(centre, top + len(lines) * step / 2) if has_icon else centre
        self.c.text(g, lines, box.cx, centre, TASK_FONT)

    def _event(self, layer: etree._Element, shape: _Shape) -> None:
        """An event: thin start, thick end, double-ringed intermediate or boundary, with its trigger."""
        g = self._group(layer, shape, True)
        box, kind, e = shape.box, shape.kind, shape.element
        cx, cy, r = box.cx, box.cy, min(box.w, box.h) / 2
        dashed = "4 2" if (kind == "startEvent" and e.get("isInterrupting") == "false") or \
            (kind == "boundaryEvent" and e.get("cancelActivity") == "false") else None
        width = 4 if kind == "endEvent" else 1.5
        self.main[shape.id] = self.c.add(g, "circle", cx=cx, cy=cy, r=r, class_="lf-shape", fill="#fff",
                                         stroke="#212121", stroke_width=width, stroke_dasharray=dashed)
        if kind in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
            self.c.add(g, "circle", cx=cx, cy=cy, r=max(0.0, r - 3), fill="none", stroke="#212121",
                       stroke_width=1.5, stroke_dasharray=dashed, class_="lf-ring")
        _event_glyph(self.c, g, shape, cx, cy, r)
        self._external_label(shape)

    def _gateway(self, layer: etree._Element, shape: _Shape) -> None:
        """A gateway: a diamond with its type's marker."""
        g = self._group(layer, shape, True)
        box = shape.box
        corners = [(box.cx, box.y), (box.right, box.cy), (box.cx, box.bottom), (box.x, box.cy)]
        self.main[shape.id] = self.c.add(g, "polygon", points=_points(corners), class_="lf-shape", **_WHITE)
        _gateway_marker(self.c, g, shape)
        self._external_label(shape)

    def _data(self, layer: etree._Element, shape: _Shape) -> None:
        """Data objects (folded page, arrow for inputs and outputs, collection bars) and data stores (cylinder)."""
        g = self._group(layer, shape, False)
        box, kind = shape.box, shape.kind
        if kind == "dataStoreReference":
            e = min(10.0, box.h / 4)
            d = (f"M{_fmt(box.x)},{_fmt(box.y + e)} V{_fmt(box.bottom - e)} "
                 f"A{_fmt(box.w / 2)},{_fmt(e)} 0 0 0 {_fmt(box.right)},{_fmt(box.bottom - e)} V{_fmt(box.y + e)}")
            self.main[shape.id] = self.c.add(g, "path", d=d, class_="lf-shape", **_WHITE)
            self.c.add(g, "ellipse", cx=box.cx, cy=box.y + e, rx=box.w / 2, ry=e, class_="lf-ring",
                       **_WHITE)
            arc = f"A{_fmt(box.w / 2)},{_fmt(e)} 0 0 0 {_fmt(box.right)}"
            self.c.add(g, "path", d=f"M{_fmt(box.x)},{_fmt(box.y + e + 5)} {arc},{_fmt(box.y + e + 5)} "
                                    f"M{_fmt(box.x)},{_fmt(box.y + e + 10)} {arc},{_fmt(box.y + e + 10)}",
                       fill="none", stroke="#212121", stroke_width=1, class_="lf-ring")
        else:
            fold = min(10.0, box.w / 3, box.h / 3)
            page = (f"M{_fmt(box.x)},{_fmt(box.y)} H{_fmt(box.right - fold)} L{_fmt(box.right)},{_fmt(box.y + fold)}"
                    f" V{_fmt(box.bottom)} H{_fmt(box.x)} Z")
            self.main[shape.id] = self.c.add(g, "path", d=page, class_="lf-shape", **_WHITE)
            self.c.add(g, "path", d=f"M{_fmt(box.right - fold)},{_fmt(box.y)} V{_fmt(box.y + fold)} "
                                    f"H{_fmt(box.right)}", fill="none", stroke="#212121", stroke_width=1,
                       class_="lf-ring")
            if kind in ("dataInput", "dataOutput"):
                arrow = [(4, 5), (10, 5), (10, 2), (15, 8), (10, 14), (10, 11), (4, 11)]
                self.c.add(g, "polygon", points=_points((box.x + x, box.y + y) for x, y in arrow),
                           fill="#212121" if kind == "dataOutput" else "#fff", stroke="#212121", stroke_width=1,
                           class_="lf-glyph")
            target = self.ids.get(shape.element.get("dataObjectRef", "")) if kind == "dataObjectReference" \
                else shape.element
            if target is not None and target.get("isCollection") == "true":
                x, y = box.cx - 6, box.bottom - 13
                self.c.add(g, "path", d=f"M{_fmt(x)},{_fmt(y)} v10 m6,-10 v10 m6,-10 v10", stroke="#212121",
                           stroke_width=2, class_="lf-glyph")
        self._external_label(shape)

    def _annotation(self, layer: etree._Element, shape: _Shape) -> None:
        """A text annotation: an open bracket and its text, top-left aligned."""
        g = self._group(layer, shape, False)
        box = shape.box
        self.main[shape.id] = _shape_rect(self.c, g, box, class_="lf-shape", fill="#fff", fill_opacity=0.01,
                                          stroke="none")
        self.c.add(g, "path", d=f"M{_fmt(box.x + 10)},{_fmt(box.y)} H{_fmt(box.x)} V{_fmt(box.bottom)} "
                                f"H{_fmt(box.x + 10)}", fill="none", stroke="#212121", stroke_width=1.5,
                   class_="lf-ring")
        width = max(10.0, box.w - 10)
        room = max(1, int((box.h - 6) // (LABEL_FONT * LINE)))
        lines = _fit(wrap(self._name(shape.element), width, LABEL_FONT), room, width, LABEL_FONT)
        self.c.text(g, lines, box.x + 5, box.y + 3, LABEL_FONT, anchor="start", top=True)

    def _group_shape(self, layer: etree._Element, shape: _Shape) -> None:
        """A group (LeanFlow's stages): a dash-dotted rounded box and its category value."""
        g = self._group(layer, shape, False)
        self.main[shape.id] = _shape_rect(self.c, g, shape.box, rx=10, class_="lf-shape", fill="none",
                                          stroke="#616161", stroke_width=1.5, stroke_dasharray="10 4 2 4")
        self._external_label(shape)

    def _generic(self, layer: etree._Element, shape: _Shape) -> None:
        """Anything else the DI draws (conversations, choreographies): a plain box with its name."""
        g = self._group(layer, shape, False)
        box = shape.box
        self.main[shape.id] = _shape_rect(self.c, g, box, rx=4, class_="lf-shape", **_WHITE)
        lines = _fit(wrap(self._name(shape.element), box.w - 8, LABEL_FONT), 3, box.w - 8, LABEL_FONT)
        self.c.text(g, lines, box.cx, box.cy, LABEL_FONT)

    def _external_label(self, shape: _Shape) -> None:
        """Queue a name drawn outside its shape: in its DI label bounds, else under it (group: top-left inside)."""
        name = self._name(shape.element)
        if not name.strip():
            return
        box, bounds = shape.box, shape.label
        if shape.kind == "group" and bounds is None:
            lines = _fit(wrap(name, max(40.0, box.w - 16), LABEL_FONT), 2, max(40.0, box.w - 16), LABEL_FONT)
            self._queue(shape.id, False, lambda t: self.c.text(t, lines, box.x + 8, box.y + 4, LABEL_FONT,
                                                               anchor="start", top=True, halo=True))
            return
        width = bounds.w * 1.1 + 8 if bounds is not None else 90.0
        lines = _fit(wrap(name, width, LABEL_FONT), 4, width, LABEL_FONT)
        anchor, top = "middle", False
        if bounds is not None:
            x, y = bounds.cx, bounds.cy
        else:
            # Without label bounds (Signavio, Bizagi, Visio) the name goes under the shape, unless a flow ends
            # there: then above it, or beside it.
            side = self._free_side(box, shape.kind != "boundaryEvent")
            half = len(lines) * LABEL_FONT * LINE / 2
            x, y = {"bottom": (box.cx, box.bottom + 4 + half), "top": (box.cx, box.y - 4 - half),
                    "right": (box.right + 4, box.cy), "left": (box.x - 4, box.cy)}[side]
            anchor = {"right": "start", "left": "end"}.get(side, "middle")
        self._queue(shape.id, shape.kind in FLOW_NODES,
                    lambda t: self.c.text(t, lines, x, y, LABEL_FONT, anchor=anchor, top=top, halo=True))

    def _free_side(self, box: Rect, above: bool) -> str:
        """The first side of a shape no flow starts or ends on: bottom, top (if allowed), right, left."""
        def touches(side: str) -> bool:
            for px, py in self.ends:
                across = box.x - 3 <= px <= box.right + 3
                along = box.y - 3 <= py <= box.bottom + 3
                if (side == "bottom" and across and abs(py - box.bottom) <= 3) or \
                        (side == "top" and across and abs(py - box.y) <= 3) or \
                        (side == "right" and along and abs(px - box.right) <= 3) or \
                        (side == "left" and along and abs(px - box.x) <= 3):
                    return True
            return False

        sides = ["bottom", "top", "right", "left"] if above else ["bottom", "right", "left"]
        return next((side for side in sides if not touches(side)), "bottom")

    def _queue(self, item_id: str, flow_node: bool, draw: Callable[[etree._Element], None]) -> None:
        """Defer an outside label to the label layer, so no shape or flow is drawn over it."""
        self.labels.append((item_id, self._state_class(item_id, flow_node), draw))

    # -- edges

    def _edge(self, layer: etree._Element, edge: _Edge) -> None:
        """A flow: sequence (solid, arrow), message (dashed, circle to open arrow), association (dotted)."""
        g = self._group(layer, edge, False)
        kind, e, points = edge.kind, edge.element, edge.points
        d = "M" + " L".join(_points([p]) for p in points)
        attrs: dict[str, object] = {"stroke": "#212121", "stroke_width": 1.5, "class_": "lf-line"}
        if kind == "sequenceFlow":
            attrs["marker_end"] = "url(#lf-arrow)"
            source = self.ids.get(e.get("sourceRef", ""))
            source_kind = _bpmn(source) if source is not None else ""
            if (e.find(f"{{{BPMN}}}conditionExpression") is not None and source_kind not in GATEWAYS
                    and source_kind not in EVENTS):
                attrs["marker_start"] = "url(#lf-diamond)"
            if source is not None and source.get("default") == edge.id:
                self._default_slash(g, points)
        elif kind == "messageFlow":
            attrs.update(stroke_dasharray="10 6", marker_start="url(#lf-circle)", marker_end="url(#lf-arrow-open)")
        elif kind in ("association", "dataInputAssociation", "dataOutputAssociation"):
            attrs.update(stroke_dasharray="1 4", stroke_linecap="round", stroke_width=1.5)
            direction = e.get("associationDirection", "None" if kind == "association" else "One")
            if direction in ("One", "Both"):
                attrs["marker_end"] = "url(#lf-arrow-line)"
            if direction == "Both":
                attrs["marker_start"] = "url(#lf-arrow-line-start)"
        self.main[edge.id] = self.c.add(g, "path", d=d, **attrs)
        for x, y in points:
            self.c.extent.append(Rect(x, y, 0, 0))
        name = e.get("name", "")
        if name.strip():
            width = edge.label.w * 1.1 + 8 if edge.label is not None else 90.0
            lines = _fit(wrap(name, width, LABEL_FONT), 3, width, LABEL_FONT)
            if edge.label is not None:
                x, y = edge.label.cx, edge.label.cy
            else:
                (x, y), vertical = _midpoint(points)
                x, y = (x + 6 + _width(max(lines, key=len), LABEL_FONT) / 2, y) if vertical \
                    else (x, y - 6 - len(lines) * LABEL_FONT * LINE / 2)
            self._queue(edge.id, False, lambda t: self.c.text(t, lines, x, y, LABEL_FONT, halo=True))

    def _default_slash(self, g: etree._Element, points: tuple[tuple[float, float], ...]) -> None:
        """The slash across a default flow, near its start."""
        (x1, y1), (x2, y2) = points[0], points[1]
        length = math.hypot(x2 - x1, y2 - y1)
        if length < 1:
            return
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        at = min(12.0, length / 2)
        cx, cy = x1 + ux * at, y1 + uy * at
        a = (cx - 4 * ux + 6 * uy, cy - 4 * uy - 6 * ux)
        b = (cx + 4 * ux - 6 * uy, cy + 4 * uy + 6 * ux)
        self.c.add(g, "path", d=f"M{_points([a])} L{_points([b])}", stroke="#212121", stroke_width=1.5,
                   class_="lf-line")

    # -- the whole

    def draw(self, highlight: str | None, title: str | None) -> etree._Element:
        """Draw every layer and return the <svg> element."""
        c = self.c
        c.add(c.svg, "style", _CSS)
        _defs(c)
        diagram = c.add(c.svg, "g", class_="lf-diagram")
        layers = {name: c.add(diagram, "g", class_=f"lf-layer-{name}") for name in
                  ("pools", "lanes", "containers", "groups", "edges", "nodes", "boundary", "labels")}
        self._hide_folded()
        for shape in self.shapes:
            c.extent.append(shape.box)
        by_area = sorted((s for s in self.shapes if s.kind in CONTAINERS and self._expanded(s)),
                         key=lambda s: -s.box.w * s.box.h)
        for shape in [s for s in self.shapes if s.kind == "participant"]:
            self._pool(layers["pools"], shape)
        for shape in [s for s in self.shapes if s.kind == "lane"]:
            self._lane(layers["lanes"], shape)
        for shape in by_area:
            self._activity(layers["containers"], shape)
        for shape in [s for s in self.shapes if s.kind == "group"]:
            self._group_shape(layers["groups"], shape)
        for edge in self.edges:
            self._edge(layers["edges"], edge)
        expanded = {s.id for s in by_area}
        for shape in self.shapes:
            kind = shape.kind
            if kind in ("participant", "lane", "group") or shape.id in expanded:
                continue
            if kind == "boundaryEvent":
                self._event(layers["boundary"], shape)
            elif kind in EVENTS:
                self._event(layers["nodes"], shape)
            elif kind in TASKS | CONTAINERS:
                self._activity(layers["nodes"], shape)
            elif kind in GATEWAYS:
                self._gateway(layers["nodes"], shape)
            elif kind in DATA:
                self._data(layers["nodes"], shape)
            elif kind == "textAnnotation":
                self._annotation(layers["nodes"], shape)
            else:
                self._generic(layers["nodes"], shape)
        for item_id, state_class, draw in self.labels:
            holder = c.add(layers["labels"], "g", class_=f"lf-label {state_class}".strip(),
                           data_label_for=_clean(item_id))
            draw(holder)
        self._overlays(diagram)
        if highlight is not None:
            self._highlight(diagram, highlight)
        self._frame(title)
        return c.svg

    def _hide_folded(self) -> None:
        """Drop DI inside a sub-process drawn collapsed: a modeler may keep it, but it belongs to a drill-down."""
        folded = {s.id for s in self.shapes if s.kind in CONTAINERS and not self._expanded(s)}

        def inside(element: etree._Element) -> bool:
            return any(a.get("id") in folded for a in element.iterancestors() if _bpmn(a) in CONTAINERS)

        self.shapes = [s for s in self.shapes if not inside(s.element)]
        self.edges = [e for e in self.edges if not inside(e.element)]
        self.ends = [p for e in self.edges for p in (e.points[0], e.points[-1])]

    def _overlays(self, diagram: etree._Element) -> None:
        """Heatmap fills on the main outline and badges at each shape's top-right corner (or an edge's middle)."""
        layer = self.c.add(diagram, "g", class_="lf-layer-overlays")
        boxes = {s.id: s.box for s in self.shapes}
        middles = {e.id: _midpoint(e.points)[0] for e in self.edges}
        for item_id in sorted(self.overlays):
            overlay = self.overlays[item_id]
            fill = _colour(overlay.fill) if overlay.fill else None  # refused even for an element not drawn
            if item_id not in self.main:
                continue
            if fill:
                style = "stroke" if item_id in middles else "fill"
                self.main[item_id].set("style", f"{style}: {fill}")
                if style == "fill" and _dark(overlay.fill):  # keep the name readable on a deep heatmap colour
                    for text in self.main[item_id].getparent().iterfind(f"{{{SVG}}}text"):
                        text.set("style", "fill: #fff")
            badge = _clean(overlay.badge).strip()
            if not badge:
                continue
            w, h = _width(badge, LABEL_FONT) + 10, 16.0
            if item_id in boxes:
                box = boxes[item_id]
                x, y = box.right - w + 6, box.y - h / 2
            else:
                mx, my = middles[item_id]
                x, y = mx - w / 2, my - h / 2
            g = self.c.add(layer, "g", class_="lf-badge", data_badge_for=_clean(item_id))
            self.c.add(g, "rect", x=x, y=y, width=w, height=h, rx=h / 2, fill="#37474f", stroke="#fff")
            self.c.add(g, "text", badge, x=x + w / 2, y=y + h / 2 + LABEL_FONT * 0.35, font_size=LABEL_FONT,
                       text_anchor="middle", fill="#fff")
            self.c.extent.append(Rect(x, y, w, h))

    def _highlight(self, diagram: etree._Element, item_id: str) -> None:
        """A thick outline around one element (an unknown id draws nothing: it may simply not be in the DI)."""
        shape = next((s for s in self.shapes if s.id == item_id), None)
        edge = next((e for e in self.edges if e.id == item_id), None)
        if shape is not None:
            box = shape.box
            self.c.add(diagram, "rect", x=box.x - 5, y=box.y - 5, width=box.w + 10, height=box.h + 10, rx=12,
                       class_="lf-highlight", fill="none", stroke="#c2185b", stroke_width=5,
                       data_highlight_for=_clean(item_id))
        elif edge is not None:
            self.c.add(diagram, "path", d="M" + " L".join(_points([p]) for p in edge.points),
                       class_="lf-highlight", fill="none", stroke="#c2185b", stroke_width=5,
                       data_highlight_for=_clean(item_id))

    def _frame(self, title: str | None) -> None:
        """The viewBox around everything drawn, with room above for the title and the state legend."""
        c = self.c
        left = min(r.x for r in c.extent) - MARGIN
        top = min(r.y for r in c.extent) - MARGIN
        right = max(r.right for r in c.extent) + MARGIN
        bottom = max(r.bottom for r in c.extent) + MARGIN
        header = (28.0 if title else 0.0) + (26.0 if self.states is not None else 0.0)
        top -= header
        y = top + MARGIN / 2
        if title:
            c.add(c.svg, "text", _clean(title), x=left + MARGIN, y=y + TITLE_FONT, font_size=TITLE_FONT,
                  font_weight="bold", fill="#212121", class_="lf-title")
            right = max(right, left + MARGIN + _width(_clean(title), TITLE_FONT) + MARGIN)
            y += 28
        if self.states is not None:
            legend = c.add(c.svg, "g", class_="lf-legend")
            x = left + MARGIN
            for state, text in (("completed", "已完成 completed"), ("active", "进行中 active"),
                                ("waiting", "等待定时 waiting"), ("not_reached", "未到达 not reached")):
                item = c.add(legend, "g", class_=f"state-{state}")
                c.add(item, "rect", x=x, y=y + 2, width=22, height=14, rx=4, class_="lf-shape", **_WHITE)
                c.add(item, "text", text, x=x + 28, y=y + 9 + LABEL_FONT * 0.35, font_size=LABEL_FONT,
                      fill="#212121")
                x += 40 + _width(text, LABEL_FONT)
            right = max(right, x + MARGIN)
        width, height = right - left, bottom - top
        c.svg.set("viewBox", f"{_fmt(left)} {_fmt(top)} {_fmt(width)} {_fmt(height)}")
        c.svg.set("width", _fmt(width))
        c.svg.set("height", _fmt(height))
        c.svg.set("font-family", FONT)
        c.svg.set("class", "lf-bpmn")
        if title:
            c.svg.set("role", "img")
            c.svg.set("aria-label", _clean(title))
            heading = etree.Element(f"{{{SVG}}}title")
            heading.text = _clean(title)
            c.svg.insert(0, heading)


def _midpoint(points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], bool]:
    """The point halfway along a polyline, and whether the segment there is vertical."""
    lengths = [math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:], strict=False)]
    half = sum(lengths) / 2
    for (a, b), length in zip(zip(points, points[1:], strict=False), lengths, strict=True):
        if half <= length and length > 0:
            t = half / length
            return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t), abs(b[0] - a[0]) < abs(b[1] - a[1])
        half -= length
    return points[0], False


def render_svg(root: etree._Element, *, states: Mapping[str, str | ElementState] | None = None,
               overlays: Mapping[str, Overlay] | None = None, highlight: str | None = None,
               title: str | None = None) -> str:
    """SVG of the document's diagram; states colour flow nodes, overlays add fills and badges (heatmaps)."""
    shapes, edges, ids = _read(root)
    svg = _Renderer(shapes, edges, ids, states, overlays or {}).draw(highlight, title)
    return etree.tostring(svg, encoding="unicode")


def render_file(path: str | Path, *, states: Mapping[str, str | ElementState] | None = None,
                overlays: Mapping[str, Overlay] | None = None, highlight: str | None = None,
                title: str | None = None) -> str:
    """Read a BPMN file safely and render it; NoDiagram names the file."""
    document = read_bpmn_file(path)
    try:
        return render_svg(document.root, states=states, overlays=overlays, highlight=highlight, title=title)
    except NoDiagram as missing:
        raise NoDiagram(str(path), missing.detail) from None


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.render FILE.bpmn [-o OUT.svg] [--instance ID --db URL]`: draw a diagram as SVG."""
    parser = argparse.ArgumentParser(prog="python -m engine.render", description=__doc__)
    parser.add_argument("input", type=Path, help="BPMN file with a diagram (DI)")
    parser.add_argument("-o", "--output", type=Path, help="SVG file to write (default: standard output)")
    parser.add_argument("--instance", type=int, help="colour the diagram by this instance's history")
    parser.add_argument("--db", default="sqlite:///leanflow.db", help="database URL, for --instance")
    parser.add_argument("--highlight", help="element id to outline")
    parser.add_argument("--title", help="caption above the diagram")
    args = parser.parse_args(argv)
    try:
        states: dict[str, ElementState] | None = None
        title = args.title
        if args.instance is not None:
            states, caption = _instance_states(args.db, args.instance, args.input)
            title = title or caption
        svg = render_file(args.input, states=states, highlight=args.highlight, title=title)
    except LeanFlowError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        which = f", instance {args.instance}" if args.instance is not None else ""
        print(f"{args.output}: diagram of {args.input}{which}")
    return 0


def _instance_states(url: str, instance_id: int, path: Path) -> tuple[dict[str, ElementState], str]:
    """An instance's element states and a caption; refuses an instance of a procedure the file does not hold."""
    from engine.service import open_service  # only here: drawing a file needs no database

    service = open_service(url)
    try:
        view = service.instance(instance_id)
        processes = {p.get("id") for p in read_bpmn_file(path).root.iter(f"{{{BPMN}}}process")}
        if view.process_id not in processes:
            raise InvalidInput(f"instance {instance_id} runs {view.process_id}, which {path} does not contain")
        states = element_states(service.history(instance_id))
    finally:
        if service.db_engine is not None:
            service.db_engine.dispose()
    return states, f"{view.title or view.process_id} · #{instance_id} · {view.status}"


if __name__ == "__main__":
    raise SystemExit(main())
