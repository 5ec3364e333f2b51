"""The analytics pages: heatmap on the designed diagram, bottleneck ranking, compliance grid, rights, escaping."""

from __future__ import annotations

from flask.testing import FlaskClient

from engine.service import WorkflowService
from tests.webui.conftest import DEMO, AuthActions, soup, text


def _work(service: WorkflowService, unit: str, wait: str, touch: str, *, meeting: bool = True) -> int:
    """Wait, open and complete the agenda step of a unit's branch meeting (and the meeting itself)."""
    found = next(i.id for i in service.instances(process_id="branch_meeting") if i.org_unit_id == unit)
    instance = service.instance(found)
    task = instance.open_tasks[0]
    person = "wangqiang" if unit == "zongcai1" else "majun"
    service.advance(wait)
    service.open_task(task.id, person_id=person)
    service.advance(touch)
    view = service.complete(task.id, person_id=person, data={"agenda": "议程", "meeting_date": "2026-03-02"})
    if meeting:
        service.open_task(view.open_tasks[0].id, person_id=person)
        service.advance("PT1H")
        service.complete(view.open_tasks[0].id, person_id=person, data={"expected": 5, "present": 4, "yes": 4})
    return instance.id


def _hours(value: float | None) -> str:
    assert value is not None
    return f"{value:.1f}h" if value < 10 else f"{value:.0f}h"


def test_auditor_sees_heatmap_and_steps_ranked_by_bottleneck_score(
        client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    first = _work(service, "zongcai1", "PT5H", "PT2H")
    second = _work(service, "juejin2", "PT20H", "PT3H", meeting=False)
    auth.login("heping")
    assert "流程分析" in text(client.get("/inbox/"))
    index = client.get("/analytics/")
    assert index.status_code == 200 and soup(index).select_one("a[href='/analytics/branch_meeting']")
    assert client.get("/analytics/?process=branch_meeting&org=zongcai1").headers["Location"].endswith(
        "/analytics/branch_meeting?org=zongcai1")
    page = client.get("/analytics/branch_meeting")
    assert page.status_code == 200
    svg = soup(page).select_one("figure.diagram svg")
    assert svg is not None
    badges = {g["data-badge-for"]: g.get_text(strip=True) for g in svg.select("g.lf-badge")}
    metrics = service.metrics("branch_meeting")
    agenda, meeting = metrics.step("prepare_agenda"), metrics.step("hold_meeting")
    assert badges["prepare_agenda"] == _hours(agenda.queue.median)  # queue median of 5 h and 20 h
    assert badges["hold_meeting"] == _hours(meeting.queue.median)
    assert "supervise" not in badges  # no data, no badge
    assert "fill: #" in str(svg)  # the heatmap fills
    assert "p90" in str(svg) and "n=2" in str(svg)  # the tooltip
    rows = soup(page).select("table.ranked tr.step")
    scores = {s.spec: s.queue.median * s.frequency for s in metrics.steps if s.queue.median is not None}
    expected = sorted(scores, key=lambda spec: -scores[spec])
    assert [r["data-spec"] for r in rows][:len(expected)] == expected
    assert float(rows[0]["data-score"]) == scores[expected[0]]
    assert "瓶颈得分 = 接办等待时间中位数（小时）× 完成次数" in text(page)
    agenda_row = next(r for r in rows if r["data-spec"] == "prepare_agenda")
    links = {a["href"] for a in agenda_row.select("td.instances a")}
    assert links == {f"/instances/{first}", f"/instances/{second}"}
    figures = text(page)
    assert "实例数 2" in figures and "已办结 1" in figures and "一次通过率 100%" in figures


def test_metric_switch_changes_the_badges(client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    _work(service, "zongcai1", "PT5H", "PT2H")
    _work(service, "juejin2", "PT20H", "PT3H", meeting=False)
    auth.login("zhoumin")  # the organisation department

    def badges(metric: str) -> dict[str, str]:
        page = client.get(f"/analytics/branch_meeting?metric={metric}")
        assert page.status_code == 200
        return {g["data-badge-for"]: g.get_text(strip=True) for g in soup(page).select("figure.diagram g.lf-badge")}

    assert badges("frequency") == {"prepare_agenda": "2", "hold_meeting": "1"}
    touch = service.metrics("branch_meeting").step("prepare_agenda").touch
    assert badges("touch")["prepare_agenda"] == _hours(touch.median)
    assert badges("sla")["prepare_agenda"].endswith("%")
    assert badges("rework")["prepare_agenda"] == "0"
    only = client.get("/analytics/branch_meeting?metric=frequency&org=zongcai1")
    assert {g["data-badge-for"]: g.get_text(strip=True) for g in soup(only).select("g.lf-badge")}[
        "prepare_agenda"] == "1"
    assert client.get("/analytics/branch_meeting?metric=nonsense").status_code == 400
    assert client.get("/analytics/no_such_process").status_code == 404


def test_compliance_grid_matches_the_compliance_rows(
        client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    service.import_schedules((DEMO / "schedules.yaml").read_text(encoding="utf-8"), "schedules.yaml")
    service.tick()
    service.advance("P31D")  # into April: the March periods are missed, April's are open
    rows = service.compliance(process_id="meeting")
    assert {r.status for r in rows} >= {"missed", "open"}
    auth.login("heping")
    page = client.get("/analytics/compliance?process=meeting")
    assert page.status_code == 200
    cells = {(td.find_parent("tr")["data-unit"], td.find_parent("tr")["data-kind"], td["data-period"]): td
             for td in soup(page).select("table.compliance td.cell[data-status]")}
    assert len(cells) == len(rows)
    symbols = {"on_time": "✓", "late": "!", "missed": "✗", "open": "…"}
    for r in rows:
        cell = cells[(r.org_unit_id, r.params["meeting_type"], r.period)]
        assert cell["data-status"] == r.status and f"st-{r.status}" in cell["class"]
        assert cell.get_text(strip=True) == symbols[r.status]
    units = [tr["data-unit"] for tr in soup(page).select("table.compliance tr.unit")]
    assert units[0] == "dongshan" and units.index("zongcai1") < units.index("zongcai1_g1")
    assert units.index("juejin2") < units.index("juejin2_g1")
    top = soup(page).select_one("tr.unit[data-unit='dongshan'] td.totals").get_text(" ", strip=True)
    assert top.endswith(f"/ {len(rows)}")
    assert "未开展" in text(page)  # the legend
    one = client.get("/analytics/compliance?process=meeting&org=juejin2")
    assert {tr["data-unit"] for tr in soup(one).select("table.compliance tr.line")} == {"juejin2", "juejin2_g1"}


def test_plain_member_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("sungang")
    assert "流程分析" not in text(client.get("/inbox/"))
    for path in ("/analytics/", "/analytics/branch_meeting", "/analytics/compliance?process=meeting"):
        response = client.get(path)
        assert response.status_code == 403 and "无权查看流程分析" in text(response)


def test_html_in_names_is_escaped(client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    bpmn = (DEMO / "branch_meeting.bpmn").read_text(encoding="utf-8")
    bpmn = bpmn.replace('id="branch_meeting"', 'id="evil_meeting"').replace(
        'name="拟定议程"', 'name="&lt;script&gt;alert(1)&lt;/script&gt;议程"')
    service.deploy_bytes(bpmn.encode(), "evil_meeting.bpmn", actor="zhoumin")
    instance = service.start("evil_meeting", org_unit_id="zongcai1", actor="zhoumin")
    task = instance.open_tasks[0]
    service.advance("PT2H")
    service.complete(task.id, person_id="wangqiang", data={"agenda": "x", "meeting_date": "2026-03-02"})
    auth.login("heping")
    page = client.get("/analytics/evil_meeting")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;议程" in html
    assert "<script>alert(1)</script>议程" in text(page)


def test_procedure_page_shows_lead_time_histogram_and_wip_line(
        client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    _work(service, "zongcai1", "PT5H", "PT2H")
    _work(service, "juejin2", "PT20H", "PT3H")
    auth.login("heping")
    page = client.get("/analytics/branch_meeting")
    assert page.status_code == 200
    metrics = service.metrics("branch_meeting")
    lead = soup(page).select_one("figure.chart-lead svg.lf-histogram")
    assert lead is not None and "办结周期分布" in lead.get_text()
    bars = lead.select("rect.lf-bar")
    assert len(bars) == 10 and sum(int(b["data-count"]) for b in bars) == metrics.completed == 2
    median = lead.select_one("g.lf-median")
    assert median is not None and metrics.lead_time.median is not None
    assert float(median["data-value"]) == round(metrics.lead_time.median, 2)
    wip = soup(page).select_one("figure.chart-wip svg.lf-line-chart")
    assert wip is not None and wip.select_one("polyline.lf-series") is not None
    top = max(p.wip_end for p in metrics.wip_series)
    assert wip.select_one("g.lf-max")["data-value"] == str(top)
    empty = client.get("/analytics/member_development")  # nothing completed yet: the histogram says so
    assert "暂无数据" in soup(empty).select_one("figure.chart-lead").get_text()


def test_the_procedure_page_lists_the_wastes_with_their_cases(client: FlaskClient, auth: AuthActions,
                                                              service: WorkflowService) -> None:
    service.advance("P10D")  # the seeded agendas now wait far past their 3-working-day SLA
    found = service.wastes("branch_meeting")
    assert any(f.kind == "waiting" for f in found)
    auth.login("heping")
    page = soup(client.get("/analytics/branch_meeting"))
    rows = page.select("table.wastes tr.waste")
    assert len(rows) == len(found)
    for row, finding in zip(rows, found, strict=True):
        assert f"waste-{finding.kind}" in row["class"]
        linked = {a["href"] for a in row.select("a")}
        assert {f"/instances/{i}" for i in finding.instance_ids[:12]} == linked
