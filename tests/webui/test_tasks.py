"""The task page: a form drawn from the step's fields, checked by the engine, rights enforced, text escaped."""

from __future__ import annotations

from flask.testing import FlaskClient

from engine.service import WorkflowService
from tests.webui.conftest import AuthActions, TaskActions, soup, text

AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}
COMMITTEE = ["wangqiang", "liming", "zhangwei"]


def _task(service: WorkflowService, person: str, process_id: str = "branch_meeting") -> int:
    return next(e.task.id for e in service.inbox_as(person) if e.instance.process_id == process_id)


def _errors(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {div["data-field"]: [p.get_text(strip=True) for p in div.select(".field-error")]
            for div in soup(response).select("div.field.has-error")}


def test_the_form_has_a_widget_for_each_field_type(client: FlaskClient, auth: AuthActions,
                                                   service: WorkflowService) -> None:
    service.start("meeting", org_unit_id="zongcai1", data={"meeting_type": "committee_meeting"}, actor="zhoumin")
    auth.login("wangqiang")
    page = soup(client.get(f"/tasks/{_task(service, 'wangqiang', 'meeting')}"))
    form = page.select_one("form.task-form")
    assert form is not None and form["enctype"] == "multipart/form-data"
    assert form.select_one("input[name=topic]")["type"] == "text"  # type: ignore[index]
    assert form.select_one("input[name=meeting_on]")["type"] == "date"  # type: ignore[index]
    chair = form.select_one("select[name=chair]")
    assert chair is not None
    local = [o["value"] for o in chair.select("optgroup")[0].select("option")]
    assert "wangqiang" in local and "zhaolei" in local and "majun" not in local  # the branch and its groups
    assert "majun" in [o["value"] for o in chair.select("optgroup")[1].select("option")]
    expected = form.select("input[type=checkbox][name=expected]")
    assert {"wangqiang", "liming", "zhangwei", "majun"} <= {i["value"] for i in expected}
    assert page.select_one("div[data-field=topic] .required") is not None
    assert page.find("h2", string="流程历史") is not None
    assert page.select_one("figure.diagram svg .lf-highlight") is not None  # the step is outlined in the diagram


def test_bad_data_shows_chinese_messages_next_to_fields_and_changes_nothing(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    task_id = _task(service, "wangqiang")
    before = service.task(task_id)
    auth.login("wangqiang")
    response = actions.submit(task_id, {"agenda": "", "meeting_date": "下周一"})
    assert response.status_code == 422
    assert _errors(response) == {"agenda": ["「议程」为必填项"],
                                 "meeting_date": ["「会议日期」应为日期，格式 YYYY-MM-DD"]}
    assert soup(response).select_one("input[name=meeting_date]")["value"] == "下周一"  # type: ignore[index]
    after = service.task(task_id)
    assert (after.state, after.completed_at) == (before.state, None)
    assert "agenda" not in service.instance(before.instance_id).data


def test_failed_rules_show_by_their_field_or_above_the_form(client: FlaskClient, auth: AuthActions,
                                                            actions: TaskActions, service: WorkflowService) -> None:
    task_id = _task(service, "wangqiang")
    auth.login("wangqiang")
    next_task = actions.submit(task_id, {**AGENDA, "meeting_date": "2026-03-09"})  # after today: refused later
    hold = int(next_task.headers["Location"].rsplit("/", 1)[1])
    response = actions.submit(hold, {"expected": "10", "present": "11", "yes": "2"})
    assert response.status_code == 422
    assert _errors(response) == {"present": ["实到人数不能多于应到人数"]}
    general = [li.get_text(strip=True) for li in soup(response).select(".errors li")]
    assert general == ["会议日期不能晚于今天"]
    assert service.task(hold).state in ("ready", "claimed")


def test_success_goes_to_my_next_task_of_the_instance_then_to_the_inbox(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    task_id = _task(service, "wangqiang")
    auth.login("wangqiang")
    response = actions.submit(task_id, AGENDA)
    assert response.status_code == 302
    hold = service.task(int(response.headers["Location"].rsplit("/", 1)[1]))
    assert hold.task_spec == "hold_meeting" and hold.instance_id == service.task(task_id).instance_id
    page = client.get(response.headers["Location"])
    assert "已完成「拟定议程」" in text(page)
    assert "完成任务 「拟定议程」 王强" in text(page)  # the history beside the form
    response = actions.submit(hold.id, {"expected": "10", "present": "8", "yes": "7"})
    assert response.headers["Location"] == "/inbox/"
    assert service.instance(hold.instance_id).status == "completed"
    assert service.instance(hold.instance_id).data["written_yes"] == 0


def test_a_member_cannot_complete_or_claim_someone_elses_task(client: FlaskClient, auth: AuthActions,
                                                              actions: TaskActions, service: WorkflowService) -> None:
    task_id = _task(service, "wangqiang")
    auth.login("liming")  # a committee member of the same branch, not its secretary
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and soup(page).select_one("form.task-form") is None
    assert "不能办理" in text(page)
    response = actions.submit(task_id, AGENDA)
    assert response.status_code == 403 and "无权操作" in text(response) and "liming may not work on task" in text(
        response)
    assert actions.post(f"/tasks/{task_id}/claim").status_code == 403
    auth.login("majun")  # another branch's secretary does not even read it
    assert client.get(f"/tasks/{task_id}").status_code == 403
    assert service.task(task_id).state == "ready"


def test_an_auditor_reads_the_task_but_cannot_complete_or_claim_it(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    task_id = _task(service, "wangqiang")
    auth.login("heping")
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and soup(page).select_one("form.task-form") is None
    for response in (actions.submit(task_id, AGENDA), actions.post(f"/tasks/{task_id}/claim")):
        assert response.status_code == 403 and "审计人员" in text(response)
    assert service.task(task_id).state == "ready"


def test_markup_typed_into_a_field_is_stored_as_typed_and_shown_escaped(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    typed = '<script>alert("x")</script><b onmouseover="alert(1)">议程</b> & 50%'
    task_id = _task(service, "wangqiang")
    instance_id = service.task(task_id).instance_id
    auth.login("wangqiang")
    assert actions.submit(task_id, {**AGENDA, "agenda": typed}).status_code == 302
    assert service.instance(instance_id).data["agenda"] == typed
    for path in (f"/instances/{instance_id}", f"/tasks/{task_id}"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html and "<b onmouseover" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert typed in text(response)


def test_an_attachment_is_checked_stored_outside_the_state_and_downloadable(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    import hashlib
    import io

    task_id = _task(service, "shenyu", "member_development")
    instance_id = service.task(task_id).instance_id
    auth.login("shenyu")
    form = {"application_date": "2026-03-02", "unit_name": "东山煤矿", "is_league_member": "true"}
    fake = actions.submit(task_id, {**form, "application_letter": (io.BytesIO(b"\x89PNG\r\n\x1a\n..."), "申请书.pdf")})
    assert fake.status_code == 422
    assert _errors(fake) == {"application_letter": ["「入党申请书（本人签名的扫描件）」文件内容与扩展名 .pdf 不符"]}
    content = b"%PDF-1.7\n" + "我志愿加入中国共产党".encode() * 50
    response = actions.submit(task_id, {**form, "application_letter": (io.BytesIO(content), "../扫描件/申请书.pdf")})
    assert response.status_code == 302
    letter = service.instance(instance_id).data["application_letter"]
    sha256 = hashlib.sha256(content).hexdigest()
    assert letter == {"sha256": sha256, "name": "申请书.pdf", "size": len(content), "type": "application/pdf"}
    assert service.instance(instance_id).data["is_league_member"] is True
    with client.get(f"/instances/{instance_id}/files/{sha256}") as download:
        assert download.status_code == 200 and download.data == content
        assert download.headers["Content-Type"] == "application/pdf"
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "attachment" in download.headers["Content-Disposition"]
    assert client.get(f"/instances/{instance_id}/files/{'0' * 64}").status_code == 404
    auth.login("majun")
    assert client.get(f"/instances/{instance_id}/files/{sha256}").status_code == 403


def test_a_refused_step_keeps_its_upload_through_a_signed_token(
        client: FlaskClient, auth: AuthActions, actions: TaskActions, service: WorkflowService) -> None:
    import io

    task_id = _task(service, "shenyu", "member_development")
    auth.login("shenyu")
    content = b"%PDF-1.4\nletter"
    refused = actions.submit(task_id, {"application_date": "", "unit_name": "东山煤矿",
                                       "application_letter": (io.BytesIO(content), "letter.pdf")})
    assert refused.status_code == 422 and list(_errors(refused)) == ["application_date"]
    token = soup(refused).select_one("input[name=application_letter__uploaded]")
    uploaded = soup(refused).select_one("div[data-field=application_letter] .uploaded")
    assert token is not None and uploaded is not None and "letter.pdf" in uploaded.get_text()
    forged = actions.submit(task_id, {"application_date": "2026-03-02", "unit_name": "东山煤矿",
                                      "application_letter__uploaded": token["value"] + "x"})
    assert _errors(forged) == {"application_letter": ["「入党申请书（本人签名的扫描件）」为必填项"]}
    done = actions.submit(task_id, {"application_date": "2026-03-02", "unit_name": "东山煤矿",
                                    "application_letter__uploaded": token["value"]})
    assert done.status_code == 302
    assert service.instance(service.task(task_id).instance_id).data["application_letter"]["name"] == "letter.pdf"
