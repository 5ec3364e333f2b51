"""Lay out diagram interchange (DI) for procedures written without it: pools, lanes, stage groups, flows, labels."""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from engine.errors import LoadError
from engine.loader import read_bpmn_file
from engine.model import BPMN, NS

BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"

EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
ACTIVITIES = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity"} | CONTAINERS
FLOW_NODES = EVENTS | GATEWAYS | ACTIVITIES
# Children of a process that the schema wants after its artifacts (groups).
AFTER_ARTIFACTS = {"resourceRole", "performer", "humanPerformer", "potentialOwner", "correlationSubscription",
                   "supports"}

TASK, EVENT, GATEWAY = (100, 80), (36, 36), (50, 50)
ORIGIN = (150, 80)
HEADER = 30  # title strip of a pool or lane, on its left
MARGIN = 30  # between a band's left edge and the first column, and after the last one
GAP = 60  # between columns: flow verticals run here, so no shape is ever crossed by one
ROW_GAP = 30  # between rows: boundary events hang 18 px into it
PAD_TOP = 40  # above a band's first row: room for labels above gateways and for stage titles
PAD_BOTTOM = 40  # below a band's last row: boundary events and event labels
CHANNEL = 12  # spacing of the horizontal tracks that back edges use under a band's rows
MIN_BAND = 120
POOL_GAP = 40
LABEL_W = 90  # labels wrap at this width, as bpmn.io does


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in diagram pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        return self.y + self.h // 2

    def moved(self, dx: int, dy: int) -> Box:
        """The same box shifted by (dx, dy)."""
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def crossed_by(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        """Whether the axis-parallel segment a-b passes through the inside of the box (touching is fine)."""
        return (min(a[0], b[0]) < self.right and max(a[0], b[0]) > self.x
                and min(a[1], b[1]) < self.bottom and max(a[1], b[1]) > self.y)


Points = list[tuple[int, int]]
Routed = dict[tuple[bool, int], list[tuple[int, int, str, str]]]
Span = tuple[str, int, int, int]  # lane id, depth, first and last band


@dataclass
class _Drawing:
    """The DI of an area: shapes with their extra attributes, flow waypoints and labels, in drawing order."""

    shapes: dict[str, tuple[Box, dict[str, str]]] = field(default_factory=dict)
    edges: dict[str, Points] = field(default_factory=dict)
    labels: dict[str, Box] = field(default_factory=dict)

    def merge(self, other: _Drawing, dx: int, dy: int) -> None:
        """Add another drawing shifted by (dx, dy)."""
        self.shapes.update({k: (b.moved(dx, dy), a) for k, (b, a) in other.shapes.items()})
        self.edges.update({k: [(x + dx, y + dy) for x, y in p] for k, p in other.edges.items()})
        self.labels.update({k: b.moved(dx, dy) for k, b in other.labels.items()})


def _local(element: etree._Element) -> str:
    """The local name of a BPMN element ('' for comments and other namespaces)."""
    if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{BPMN}}}"):
        return ""
    return element.tag.split("}", 1)[1]


def _stage(element: etree._Element) -> str | None:
    """The stage a flow node belongs to (camunda:property name="stage"), if any."""
    values = element.xpath("./bpmn:extensionElements/camunda:properties/camunda:property[@name='stage']/@value",
                           namespaces=NS)
    return str(values[0]).strip() or None if values else None


def _label_size(text: str, limit: int = LABEL_W) -> tuple[int, int]:
    """Estimated size of a label wrapped at limit: CJK characters are about 12 px wide at bpmn.io's 11 px font."""
    width = sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)
    return min(width, limit), 14 * max(1, -(-width // limit))


def _longest(vertices: list[str], edges: list[tuple[str, str, int]]) -> dict[str, int] | None:
    """Longest-path levels over weighted edges (Kahn's algorithm), or None if the edges have a cycle."""
    out: dict[str, list[tuple[str, int]]] = {v: [] for v in vertices}
    indegree = dict.fromkeys(vertices, 0)
    for u, v, weight in edges:
        out[u].append((v, weight))
        indegree[v] += 1
    level = dict.fromkeys(vertices, 0)
    ready = [v for v in vertices if indegree[v] == 0]
    done = 0
    while ready:
        u = ready.pop()
        done += 1
        for v, weight in out[u]:
            level[v] = max(level[v], level[u] + weight)
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    return level if done == len(vertices) else None


def _back_edges(nodes: list[str], succ: dict[str, list[tuple[str, str]]], roots: list[str]) -> set[str]:
    """Flows that close a cycle in a depth-first walk from the start events: the rework loops."""
    state: dict[str, int] = {}  # 1 while on the DFS stack, 2 when finished
    back: set[str] = set()
    for root in roots + nodes:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, Iterator[tuple[str, str]]]] = [(root, iter(succ[root]))]
        while stack:
            node, todo = stack[-1]
            for target, flow in todo:
                if state.get(target) == 1:
                    back.add(flow)
                elif target not in state:
                    state[target] = 1
                    stack.append((target, iter(succ[target])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back


def _columns(nodes: list[str], forward: list[tuple[str, str, int]], stage: dict[str, str]) -> dict[str, int]:
    """Longest-path columns in which every stage starts after the previous stage's last column."""
    rank = _longest(nodes, forward) or dict.fromkeys(nodes, 0)
    order = sorted(nodes, key=lambda n: (rank[n], nodes.index(n)))
    stages = list(dict.fromkeys(stage[n] for n in order if n in stage))
    # A barrier vertex per stage boundary: stage i's nodes < barrier i <= stage i+1's nodes. NUL never occurs in ids.
    barriers = [f"\0{i}" for i in range(len(stages) - 1)]
    extra = [(n, barriers[i], 1) for n in nodes for i in range(len(barriers)) if stage.get(n) == stages[i]]
    extra += [(barriers[i], n, 0) for n in nodes for i in range(len(barriers)) if stage.get(n) == stages[i + 1]]
    # A flow from a later stage back into an earlier one makes the stages unorderable: keep the plain ranks.
    columns = _longest(nodes + barriers, forward + extra) or rank
    return {n: columns[n] for n in nodes}


def _clean(points: Points) -> Points:
    """Drop repeated points and the middle of straight runs."""
    out: Points = []
    for p in points:
        if out and p == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
        else:
            out.append(p)
    return out


def _forward_routes(s: Box, t: Box, after: int, before: int, gateway: bool, detour: int) -> list[Points]:
    """Candidate routes of a forward flow, best first: straight, out of a gateway's tip, jog in a column gap."""
    routes = [[(s.right, s.cy), (t.x, t.cy)]] if s.cy == t.cy else []
    if gateway and s.cy != t.cy:
        tip = s.bottom if t.cy > s.cy else s.y
        routes.append([(s.cx, tip), (s.cx, t.cy), (t.x, t.cy)])
    for x in (before, after):
        routes.append([(s.right, s.cy), (x, s.cy), (x, t.cy), (t.x, t.cy)])
    routes.append([(s.right, s.cy), (after, s.cy), (after, detour), (before, detour), (before, t.cy), (t.x, t.cy)])
    return routes


def _boundary_routes(s: Box, t: Box, after: int, before: int, detour: int) -> list[Points]:
    """Candidate routes from a boundary event: straight down and across, or under the host then along a gap."""
    routes = [[(s.cx, s.bottom), (s.cx, t.cy), (t.x, t.cy)]] if t.cy > s.bottom else []
    for x in (before, after):
        routes.append([(s.cx, s.bottom), (s.cx, s.bottom + 6), (x, s.bottom + 6), (x, t.cy), (t.x, t.cy)])
    return routes + [[(s.cx, s.bottom), (s.cx, detour), (before, detour), (before, t.cy), (t.x, t.cy)]]


def _back_routes(s: Box, t: Box, after: int, before: int, track: int, hosted: bool, below: bool) -> list[Points]:
    """Candidate routes of a rework loop: out and down to its own track under the rows, left, then up into t."""
    exits = [[(s.cx, s.bottom)]] + ([] if hosted else [[(s.right, s.cy), (after, s.cy)]])
    entries = ([[(t.cx, t.bottom)]] if below else []) + [[(before, t.cy), (t.x, t.cy)]]
    return [out + [(out[-1][0], track), (into[0][0], track)] + into
            for into in entries for out in exits if out[0] != into[-1]]


def _segments(points: Points) -> Iterator[tuple[tuple[bool, int], int, int]]:
    """Each segment of a route as ((horizontal?, its y or x), low end, high end)."""
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        yield ((True, y1), min(x1, x2), max(x1, x2)) if y1 == y2 else ((False, x1), min(y1, y2), max(y1, y2))


def _cost(points: Points, hard: list[Box], soft: list[Box], routed: Routed, ends: tuple[str, str]) -> int:
    """How bad a route is: shapes crossed, then stretches shared with unrelated flows, then labels crossed."""
    pairs = list(zip(points, points[1:], strict=False))
    shapes = sum(o.crossed_by(a, b) for a, b in pairs for o in hard)
    labels = sum(o.crossed_by(a, b) for a, b in pairs for o in soft)
    # Flows that leave the same node or enter the same node may share a stretch: it reads as a fork or a join.
    shared = sum(1 for key, lo, hi in _segments(points) for a, b, s, t in routed.get(key, [])
                 if s != ends[0] and t != ends[1] and min(hi, b) > max(lo, a))
    return 100 * shapes + 10 * shared + labels


class _Area:
    """The flow nodes of a process or sub-process laid out in bands (its lanes) from (0, 0): out, heights, width."""

    # Each band is at least floor[band] high; columns start at x = left; nodes in no lane join a neighbour's
    # band, else band home (a sub-process's own lane).
    def __init__(self, container: etree._Element, band_of: dict[str, int], floor: list[int], left: int,
                 home: int = 0) -> None:
        self.container, self.band_of, self.floor = container, band_of, floor
        self.element = {c.get("id", ""): c for c in container if _local(c) in FLOW_NODES and c.get("id")}
        self.host = {i: e.get("attachedToRef", "") for i, e in self.element.items()
                     if _local(e) == "boundaryEvent" and e.get("attachedToRef") in self.element}
        self.nodes = [i for i in self.element if i not in self.host]
        self.flows = [(f.get("id", ""), f.get("sourceRef", ""), f.get("targetRef", "")) for f in container
                      if _local(f) == "sequenceFlow" and f.get("id") and f.get("sourceRef") in self.element
                      and f.get("targetRef") in self.nodes]
        self.origin = {f: self.host.get(s, s) for f, s, _ in self.flows}  # a boundary event's flows leave its task
        self._rank()
        self.band = {n: b for n, b in band_of.items() if n in self.element and b < len(floor)}
        for n in sorted(self.nodes, key=self._order):
            near = [u for u, v, _ in self.forward if v == n and u in self.band]
            near += [v for u, v, _ in self.forward if u == n and v in self.band]
            self.band.setdefault(n, self.band[near[0]] if near else home)
        self._sub_processes()
        self._rows()
        self._grid(left)
        self._boxes()
        self._route()
        self._labels()

    def _order(self, n: str) -> tuple[int, int]:
        """Sort key: column, then document order."""
        return self.col[n], self.nodes.index(n)

    def _rank(self) -> None:
        """Columns: the longest path from the start events over forward flows; rework loops are back edges."""
        succ: dict[str, list[tuple[str, str]]] = {n: [] for n in self.nodes}
        for flow, _, target in self.flows:
            succ[self.origin[flow]].append((target, flow))
        incoming = {t for _, _, t in self.flows}
        roots = [n for n in self.nodes if _local(self.element[n]) == "startEvent"]
        self.back = _back_edges(self.nodes, succ, roots + [n for n in self.nodes if n not in incoming])
        self.forward = [(u, v, 1) for u in self.nodes for v, flow in succ[u] if flow not in self.back]
        stages = {n: s for n in self.nodes if (s := _stage(self.element[n]))}
        self.col = _columns(self.nodes, self.forward, stages)

    def _sub_processes(self) -> None:
        """Size the nodes; an expanded sub-process working in several lanes spans them, alone in its column."""
        self.size = {n: EVENT if _local(e) in EVENTS else GATEWAY if _local(e) in GATEWAYS else TASK
                     for n, e in self.element.items()}
        self.inner: dict[str, _Drawing] = {}
        self.span: dict[str, tuple[int, int, list[int]]] = {}
        for n, e in self.element.items():
            if _local(e) in CONTAINERS and any(_local(c) in FLOW_NODES for c in e):
                sub = _Area(e, self.band_of, [0] * len(self.floor), MARGIN, self.band[n])
                used = [b for b, h in enumerate(sub.heights) if h] + [self.band[n]]
                if min(used) == max(used):  # a box in one row of its lane
                    self.inner[n], self.size[n] = sub.out, (sub.width, sub.heights[self.band[n]])
                else:
                    self.span[n], self.size[n] = (min(used), max(used), sub.heights), (sub.width, 0)
                    for m in self.nodes:
                        self.col[m] += self.col[m] > self.col[n]
                    self.col[n] += 1

    def _rows(self) -> None:
        """Rows in each band: a node follows its first predecessor there; a boundary event's target goes lower."""
        preds = {n: [(self.origin[f], s in self.host) for f, s, t in self.flows if t == n and f not in self.back]
                 for n in self.nodes}
        self.row: dict[str, int] = {}
        taken: set[tuple[int, int, int]] = set()
        for n in sorted((n for n in self.nodes if n not in self.span), key=self._order):
            same = sorted(((self.row[u] + hosted, hosted) for u, hosted in preds[n]
                           if u in self.row and self.band[u] == self.band[n]), key=lambda p: p[1])
            r = same[0][0] if same else 0
            while (self.band[n], self.col[n], r) in taken:
                r += 1
            taken.add((self.band[n], self.col[n], r))
            self.row[n] = r

    def _grid(self, left: int) -> None:
        """Column positions and widths, row offsets in each band, and band heights with room for tracks."""
        bands, col, band = len(self.floor), self.col, self.band
        columns = max(col.values(), default=-1) + 1
        self.col_w = [TASK[0]] * columns
        for n in self.nodes:
            self.col_w[col[n]] = max(self.col_w[col[n]], self.size[n][0])
        self.col_x = [left + sum(self.col_w[:c]) + GAP * c for c in range(columns)]
        self.width = (self.col_x[-1] + self.col_w[-1] if columns else left) + MARGIN
        self.row_h: list[dict[int, int]] = [{} for _ in range(bands)]
        for n, r in self.row.items():
            self.row_h[band[n]][r] = max(self.row_h[band[n]].get(r, TASK[1]), self.size[n][1])
        self.row_y = [[PAD_TOP + sum(rows.get(r, TASK[1]) + ROW_GAP for r in range(i)) for i in range(len(rows) + 1)]
                      for rows in self.row_h]
        # Flows whose usual route would run through a sub-process spanning lanes go round it on a deep track, below
        # everything else in the lowest band involved; rework loops have a track under the lower band of their ends.
        self.deep: dict[str, int] = {}
        for flow, _, target in self.flows:
            o, ends = self.origin[flow], {band[self.origin[flow]], band[target]}
            first, last = (col[target], col[o]) if flow in self.back else (col[o] + 1, col[target] - 1)
            crossed = [hi for n, (lo, hi, _) in self.span.items()
                       if first <= col[n] <= last and lo <= max(ends) and min(ends) <= hi]
            if crossed:
                self.deep[flow] = max(crossed + list(ends))
        self.low = {f: max(band[self.origin[f]], band[t]) for f, _, t in self.flows}
        tracks = [sum(1 for f in self.back if f not in self.deep and self.low[f] == b) for b in range(bands)]
        heights = [max(self.floor[b], self.row_y[b][-1] - ROW_GAP + PAD_BOTTOM + CHANNEL * tracks[b]
                       if self.row_h[b] else 0) for b in range(bands)]
        for _, hi, need in self.span.values():  # room below a spanning sub-process for the timers on its edge
            heights = [max(h, need[b] + (24 if b == hi else 0)) for b, h in enumerate(heights)]
        self.base, self.deep_y = heights, {b: heights[b] + 6 for b in self.deep.values()}
        self.heights = [h + sum(CHANNEL for d in self.deep.values() if d == b) + (12 if b in self.deep_y else 0)
                        for b, h in enumerate(heights)]
        self.top = [sum(self.heights[:b]) for b in range(bands)]

    def _boxes(self) -> None:
        """Place every shape; a spanning sub-process is laid out again on this area's final band heights."""
        self.box: dict[str, Box] = {}
        for n in self.nodes:
            (w, h), c = self.size[n], self.col[n]
            if n in self.span:
                lo, hi, _ = self.span[n]
                self.box[n] = Box(self.col_x[c], self.top[lo] + 12, w, self.top[hi] + self.base[hi] - 36 - self.top[lo])
                self.inner[n] = _Area(self.element[n], self.band_of, self.heights, MARGIN, self.band[n]).out
            else:
                b, r = self.band[n], self.row[n]
                y = self.top[b] + self.row_y[b][r] + (self.row_h[b][r] - h) // 2
                self.box[n] = Box(self.col_x[c] + (self.col_w[c] - w) // 2, y, w, h)
        # Boundary events sit on the task's bottom edge from the right, each leaving room for its label on its left
        # when the task is wide enough (a sub-process), else 40 px apart.
        next_x = {h: self.box[h].right - 25 for h in self.host.values()}
        for b, h in self.host.items():
            self.box[b] = Box(next_x[h] - EVENT[0] // 2, self.box[h].bottom - EVENT[1] // 2, *EVENT)
            step = 44 + _label_size(self.element[b].get("name", ""))[0]
            next_x[h] -= step if next_x[h] - step >= self.box[h].x + 18 else 40
        self.out = _Drawing()
        for n, e in self.element.items():
            attrs = {"isMarkerVisible": "true"} if _local(e) == "exclusiveGateway" else {}
            if _local(e) in CONTAINERS:
                attrs = {"isExpanded": "true" if n in self.inner else "false"}
            self.out.shapes[n] = (self.box[n], attrs)
        for n, drawing in self.inner.items():
            self.out.merge(drawing, self.box[n].x, 0 if n in self.span else self.box[n].y)
        # Boundary labels go left of the event, under its task, where flows avoid them.
        for b in self.host:
            if name := self.element[b].get("name"):
                (w, h), eb = _label_size(name), self.box[b]
                self.out.labels[b] = Box(eb.x - 4 - w, eb.cy + 4, w, h)

    def _route(self) -> None:
        """Route each flow: the cheapest of a few orthogonal candidates, the vertical legs in column gaps."""
        def after(n: str) -> int:
            return self.col_x[self.col[n]] + self.col_w[self.col[n]] + GAP // 3

        def before(n: str) -> int:
            return self.col_x[self.col[n]] - GAP // 3

        routed: Routed = {}
        used = [0] * len(self.floor)
        for flow, source, target in self.flows:
            s, t, origin = self.box[source], self.box[target], self.origin[flow]
            if flow in self.deep:
                b = self.deep[flow]
                track = self.top[b] + self.deep_y[b]
                self.deep_y[b] += CHANNEL
            elif flow in self.back:
                b = self.low[flow]
                track = self.top[b] + self.row_y[b][-1] - ROW_GAP + PAD_BOTTOM - 6 + CHANNEL * used[b]
                used[b] += 1
            else:  # just under the source's row, clear of the boundary events hanging from it
                b = self.band[origin]
                track = self.top[b] + self.row_y[b][self.row[origin] + 1] - 6 if origin in self.row else s.bottom + 6
            if flow in self.back:
                hosted, below = source in self.host, self.band[target] == b
                routes = _back_routes(s, t, after(origin), before(target), track, hosted, below)
            elif source in self.host:
                routes = _boundary_routes(s, t, after(origin), before(target), track)
            else:
                gateway = _local(self.element[source]) in GATEWAYS
                routes = _forward_routes(s, t, after(source), before(target), gateway, track)
            hard = [bx for k, bx in self.box.items() if k not in (source, target, origin)]
            soft = [bx for k, bx in self.out.labels.items() if k != source]
            costs = [(_cost(_clean(p), hard, soft, routed, (source, target)), i) for i, p in enumerate(routes)]
            self.out.edges[flow] = points = _clean(routes[min(costs)[1]])
            for key, lo, hi in _segments(points):
                routed.setdefault(key, []).append((lo, hi, source, target))

    def _labels(self) -> None:
        """Labels below events and gateways (above or beside when flows use that tip), and on flows' first segments."""
        ends = {p for points in self.out.edges.values() for p in (points[0], points[-1])}
        for n, e in self.element.items():
            if e.get("name") and n not in self.host and _local(e) in EVENTS | GATEWAYS:
                (w, h), b = _label_size(e.get("name", "")), self.box[n]
                if (b.cx, b.bottom) not in ends:
                    self.out.labels[n] = Box(b.cx - w // 2, b.bottom + 5, w, h)
                elif (b.cx, b.y) not in ends:
                    self.out.labels[n] = Box(b.cx - w // 2, b.y - 5 - h, w, h)
                else:
                    self.out.labels[n] = Box(b.x - 4 - w, b.cy - 4 - h, w, h)
        for f in self.container:
            if _local(f) == "sequenceFlow" and f.get("name") and f.get("id") in self.out.edges:
                (w, h), (a, b) = _label_size(f.get("name", "")), self.out.edges[f.get("id", "")][:2]
                if a[1] == b[1]:  # horizontal first segment: above its middle
                    self.out.labels[f.get("id", "")] = Box((a[0] + b[0]) // 2 - w // 2, a[1] - 4 - h, w, h)
                else:  # vertical: right of its middle
                    self.out.labels[f.get("id", "")] = Box(a[0] + 5, (a[1] + b[1]) // 2 - h // 2, w, h)


def _lane_tree(parent: etree._Element, depth: int = 0) -> list[tuple[etree._Element, int]]:
    """The lanes under a process (first lane set) or a lane (child lane set), depth first, with their depth."""
    lane_set = parent.find(f"{{{BPMN}}}{'laneSet' if depth == 0 else 'childLaneSet'}")
    lanes: list[tuple[etree._Element, int]] = []
    for lane in lane_set.findall(f"{{{BPMN}}}lane") if lane_set is not None else []:
        lanes += [(lane, depth), *_lane_tree(lane, depth + 1)]
    return lanes


def _pool(process: etree._Element | None, pooled: bool) -> tuple[_Drawing, list[int], int, list[Span]]:
    """Lay out one process from (0, 0): drawing, band heights, width, and lanes as (id, depth, first, last band)."""
    lanes = _lane_tree(process) if process is not None else []
    leaves = [i for i, (_, d) in enumerate(lanes) if i + 1 == len(lanes) or lanes[i + 1][1] <= d]
    spans: list[Span] = []
    band_of: dict[str, int] = {}
    for i, (lane, depth) in enumerate(lanes):
        end = next((j for j in range(i + 1, len(lanes)) if lanes[j][1] <= depth), len(lanes))
        mine = [k for k, leaf in enumerate(leaves) if i <= leaf < end]
        spans.append((lane.get("id", ""), depth, mine[0], mine[-1]))
        # Depth first, so a node listed by a lane and by its child lane ends in the child's band.
        band_of.update({(ref.text or "").strip(): mine[0] for ref in lane.findall(f"{{{BPMN}}}flowNodeRef")})
    levels = max((d for _, d in lanes), default=-1) + 1
    left = (HEADER + HEADER * levels if pooled else 0) + MARGIN
    if process is None:  # a black-box pool
        return _Drawing(), [MIN_BAND], left + TASK[0], []
    area = _Area(process, band_of, [MIN_BAND] * max(1, len(leaves)), left)
    return area.out, area.heights, area.width, spans


def _draw(pools: list[tuple[str | None, etree._Element | None]]) -> _Drawing:
    """Lay out the pools one under another, all as wide as the widest, with their lanes as stacked bands."""
    parts = [(participant, *_pool(process, participant is not None)) for participant, process in pools]
    width = max(part[3] for part in parts)
    out = _Drawing()
    x, y = ORIGIN
    for participant, drawing, heights, _, spans in parts:
        if participant is not None:
            out.shapes[participant] = (Box(x, y, width, sum(heights)), {"isHorizontal": "true"})
        for lane, depth, first, last in spans:
            lane_x = x + HEADER * (depth + 1)
            box = Box(lane_x, y + sum(heights[:first]), x + width - lane_x, sum(heights[first:last + 1]))
            out.shapes[lane] = (box, {"isHorizontal": "true"})
        out.merge(drawing, x, y)
        y += sum(heights) + POOL_GAP
    return out


def _remove(element: etree._Element) -> None:
    """Remove an element, leaving the whitespace around its siblings as it was before it was inserted."""
    parent, previous = element.getparent(), element.getprevious()
    if previous is not None:
        previous.tail = element.tail
    else:
        parent.text = element.tail
    parent.remove(element)


def _insert(parent: etree._Element, index: int, element: etree._Element, unit: str) -> None:
    """Insert a new element indented like its siblings; the rest of the file keeps its own formatting."""
    level = sum(1 for _ in parent.iterancestors()) + 1
    etree.indent(element, space=unit, level=level)
    had_children = len(parent) > 0
    parent.insert(index, element)
    previous, inside = element.getprevious(), "\n" + unit * level
    if previous is not None:
        element.tail, previous.tail = previous.tail, inside
    else:
        element.tail, parent.text = parent.text if had_children else "\n" + unit * (level - 1), inside


def _fresh(wanted: str, ids: set[str]) -> str:
    """An id not yet used in the document (and now reserved)."""
    name, n = wanted, 1
    while name in ids:
        n += 1
        name = f"{wanted}_{n}"
    ids.add(name)
    return name


def _pools(doc: etree._Element, unit: str, ids: set[str]) -> tuple[str, list[tuple[str | None, etree._Element | None]]]:
    """The plane's element and the pools to draw; adds a collaboration and participants where lanes need them."""
    processes = doc.findall(f"{{{BPMN}}}process")
    wanted = [p for p in processes if p.get("isExecutable") == "true"] or processes
    if not wanted:
        raise ValueError("the document has no bpmn:process to lay out")
    collaboration = doc.find(f"{{{BPMN}}}collaboration")
    if collaboration is None and len(wanted) == 1 and wanted[0].find(f"{{{BPMN}}}laneSet") is None:
        return wanted[0].get("id", ""), [(None, wanted[0])]
    if collaboration is None:  # Camunda Modeler and bpmn.io draw lanes only inside a participant's pool
        collaboration = doc.makeelement(f"{{{BPMN}}}collaboration", {"id": _fresh("Collaboration_1", ids)})
        _insert(doc, doc.index(wanted[0]), collaboration, unit)
    drawn = {p.get("processRef") for p in collaboration.findall(f"{{{BPMN}}}participant")}
    for process in wanted:
        pid = process.get("id", "")
        if pid not in drawn:
            attrs = {"id": _fresh(f"Participant_{pid}", ids), "name": process.get("name") or pid, "processRef": pid}
            at = max((i + 1 for i, c in enumerate(collaboration)
                      if _local(c) in ("documentation", "extensionElements", "participant")), default=0)
            _insert(collaboration, at, collaboration.makeelement(f"{{{BPMN}}}participant", attrs), unit)
    by_id = {p.get("id"): p for p in processes}
    pools = [(p.get("id"), by_id.get(p.get("processRef"))) for p in collaboration.findall(f"{{{BPMN}}}participant")]
    return collaboration.get("id", ""), pools


def _message_flows(doc: etree._Element, out: _Drawing) -> None:
    """Route message flows between pools vertically, from the facing sides of their ends."""
    for flow in doc.iterfind(f"{{{BPMN}}}collaboration/{{{BPMN}}}messageFlow"):
        ends = out.shapes.get(flow.get("sourceRef", "")), out.shapes.get(flow.get("targetRef", ""))
        if flow.get("id") and ends[0] and ends[1]:
            s, t = ends[0][0], ends[1][0]
            sy, ty = (s.bottom, t.y) if t.cy >= s.cy else (s.y, t.bottom)
            mid = (sy + ty) // 2
            out.edges[flow.get("id", "")] = _clean([(s.cx, sy), (s.cx, mid), (t.cx, mid), (t.cx, ty)])


def _stage_groups(doc: etree._Element, process: etree._Element, out: _Drawing, unit: str) -> None:
    """Replace the process's stage groups: a category value and a bpmn:group per stage, shaped around its nodes."""
    pid = process.get("id", "")
    category_id = f"Category_{pid}_stages"
    for old in [c for c in doc.findall(f"{{{BPMN}}}category") if c.get("id") == category_id]:
        values = {v.get("id") for v in old}
        for group in [g for g in process.findall(f"{{{BPMN}}}group") if g.get("categoryValueRef") in values]:
            _remove(group)
        _remove(old)
    element = {e.get("id", ""): e for e in process.iter() if _local(e) in FLOW_NODES}
    members: dict[str, list[str]] = {}
    for key, e in element.items():
        # A boundary event sits on its task, so it is drawn in its task's stage whatever its own says.
        host = element.get(e.get("attachedToRef", "")) if _local(e) == "boundaryEvent" else None
        name = _stage(host if host is not None else e)
        if name and key in out.shapes:
            members.setdefault(name, []).append(key)
    if not members:
        return
    stages = sorted(members, key=lambda s: min(out.shapes[m][0].x for m in members[s]))
    category = doc.makeelement(f"{{{BPMN}}}category", {"id": category_id})
    at = next((i for i, c in enumerate(process) if _local(c) in AFTER_ARTIFACTS), len(process))
    for i, name in enumerate(stages, 1):
        value, group = f"CategoryValue_{pid}_{i}", f"Group_{pid}_{i}"
        etree.SubElement(category, f"{{{BPMN}}}categoryValue", {"id": value, "value": name})
        attrs = {"id": group, "categoryValueRef": value}
        _insert(process, at + i - 1, process.makeelement(f"{{{BPMN}}}group", attrs), unit)
        boxes = [out.shapes[m][0] for m in members[name]]
        tall = boxes + [out.labels[m] for m in members[name] if m in out.labels]
        x, y = min(b.x for b in boxes) - 15, min(b.y for b in tall) - 28
        box = Box(x, y, max(b.right for b in boxes) + 15 - x, max(b.bottom for b in tall) + 10 - y)
        out.shapes[group] = (box, {})
        out.labels[group] = Box(x + 8, y + 6, *_label_size(name, max(LABEL_W, box.w - 16)))
    _insert(doc, doc.index(process) + 1, category, unit)


def _write(doc: etree._Element, plane_ref: str, out: _Drawing, unit: str, ids: set[str]) -> None:
    """Append one BPMNDiagram with the drawing's shapes, then its edges, each with its label."""
    diagram = doc.makeelement(f"{{{BPMNDI}}}BPMNDiagram", {"id": _fresh("BPMNDiagram_1", ids)})
    plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane",
                             {"id": _fresh("BPMNPlane_1", ids), "bpmnElement": plane_ref})

    def bounds(parent: etree._Element, box: Box) -> None:
        etree.SubElement(parent, f"{{{DC}}}Bounds", {"x": str(box.x), "y": str(box.y), "width": str(box.w),
                                                      "height": str(box.h)})

    for key, (box, attrs) in out.shapes.items():
        shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape",
                                 {"id": _fresh(f"{key}_di", ids), "bpmnElement": key, **attrs})
        bounds(shape, box)
        if key in out.labels:
            bounds(etree.SubElement(shape, f"{{{BPMNDI}}}BPMNLabel"), out.labels[key])
    for key, points in out.edges.items():
        edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", {"id": _fresh(f"{key}_di", ids), "bpmnElement": key})
        for x, y in points:
            etree.SubElement(edge, f"{{{DI}}}waypoint", {"x": str(x), "y": str(y)})
        if key in out.labels:
            bounds(etree.SubElement(edge, f"{{{BPMNDI}}}BPMNLabel"), out.labels[key])
    # The schema puts diagrams after every root element and before any bpmn:relationship.
    _insert(doc, next((i for i, c in enumerate(doc) if _local(c) == "relationship"), len(doc)), diagram, unit)


def layout_definitions(root: etree._Element) -> etree._Element:
    """Return a copy of a bpmn:definitions tree with fresh DI for its executable process(es)."""
    # Copy the whole document when root is its root element, so comments around it survive.
    doc = copy.deepcopy(root.getroottree()).getroot() if root.getparent() is None else copy.deepcopy(root)
    prefixes = sorted({p for e in doc.iter() if isinstance(e.tag, str) for p in e.nsmap if p})
    if "\n" not in (doc.text or ""):  # written on one line: indent it all, or the added parts could not match
        etree.indent(doc, space="  ")
    tail = (doc.text or "").rsplit("\n", 1)[-1]
    unit = tail if tail and not tail.strip() else "  "
    for diagram in doc.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        _remove(diagram)
    ids = {e.get("id", "") for e in doc.iter() if isinstance(e.tag, str)}
    plane_ref, pools = _pools(doc, unit, ids)
    out = _draw(pools)
    _message_flows(doc, out)
    for _, process in pools:
        if process is not None:
            _stage_groups(doc, process, out, unit)
    _write(doc, plane_ref, out, unit, ids | {e.get("id", "") for e in doc.iter() if isinstance(e.tag, str)})
    # Declare bpmndi/dc/di once on the root; keep every other declaration, even those used only in values.
    etree.cleanup_namespaces(doc, top_nsmap={"bpmndi": BPMNDI, "dc": DC, "di": DI}, keep_ns_prefixes=prefixes)
    return doc


def serialize(root: etree._Element) -> bytes:
    """The document as UTF-8 with an XML declaration, as Camunda Modeler writes it."""
    # Comments and processing instructions around the root each get a line of their own.
    nodes = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    body = b"\n".join(etree.tostring(n, encoding="UTF-8", with_tail=False) for n in nodes)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m engine.layout IN.bpmn [-o OUT.bpmn]`: lay out a procedure (in place without -o)."""
    parser = argparse.ArgumentParser(prog="python -m engine.layout", description=__doc__)
    parser.add_argument("input", type=Path, help="BPMN file to lay out")
    parser.add_argument("-o", "--output", type=Path, help="where to write (default: overwrite the input)")
    args = parser.parse_args(argv)
    try:
        doc = layout_definitions(read_bpmn_file(args.input).root)
    except (LoadError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    output = args.output or args.input
    output.write_bytes(serialize(doc))
    count = {name: sum(1 for _ in doc.iter(f"{{{ns}}}{name}"))
             for ns, name in ((BPMNDI, "BPMNShape"), (BPMNDI, "BPMNEdge"), (BPMN, "lane"), (BPMN, "group"))}
    print(f"{output}: {count['BPMNShape']} shapes, {count['BPMNEdge']} edges, {count['lane']} lanes, "
          f"{count['group']} groups")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
