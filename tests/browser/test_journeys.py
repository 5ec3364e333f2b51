"""Journeys through the web UI in real headless Chromium, against the demo database served by waitress.

The demo database is seeded once per session the way a person does it (`leanflow demo --no-serve`), then copied
for each journey; the app runs on a free 127.0.0.1 port in a background thread of this process. Each journey
logs in with the demo password and does what that person would: a branch secretary works a task whose form is
refused and then accepted, an organisation-department member lints, deploys and starts a procedure, an auditor
reads an instance and can change nothing, and anyone logs out. Screenshots go to /tmp/journey_*.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from leanflow.demo import DEFAULT_PASSWORD, END
from tests.browser.conftest import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

MEETING = (ROOT / "leanflow" / "demo" / "branch_meeting.bpmn").read_bytes()
BROKEN = MEETING.replace(b'value="NNVA"', b'value="FAST"')  # a lean class lint refuses
SHOTS = Path("/tmp")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database and its attachments, seeded once by the command line."""
    folder = tmp_path_factory.mktemp("demo")
    done = subprocess.run([sys.executable, "-m", "leanflow", "demo", "--db", "demo.db", "--no-serve"], cwd=folder,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (folder / "demo-files").is_dir()
    return folder / "demo.db"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page as a Chinese user's browser in Beijing has it (date inputs read yyyy/mm/dd)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, device_scale_factor=1, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def site(page: Page, demo_db: Path, tmp_path: Path) -> Iterator[str]:
    """The web UI with waitress on a copy of the demo database; its base URL."""
    from leanflow.serve import Server, make_app

    for suffix in ("", "-wal", "-shm"):
        if Path(f"{demo_db}{suffix}").exists():
            shutil.copy(f"{demo_db}{suffix}", tmp_path / f"demo.db{suffix}")
    shutil.copytree(demo_db.with_name("demo-files"), tmp_path / "files")
    app = make_app(f"sqlite:///{tmp_path / 'demo.db'}", secret="journeys-secret", upload_folder=tmp_path / "files")
    server = Server(app, port=0, threads=4).start()
    yield server.url
    server.stop()


def log_in(page: Page, site: str, person: str) -> None:
    """Log in through the form with the demo password; land on the inbox."""
    from playwright.sync_api import expect

    page.goto(f"{site}/login")
    page.fill("#person_id", person)
    page.fill("#password", DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("我的待办")


def test_secretary_fixes_a_refused_form_and_goes_on_to_the_next_step(page: Page, site: str) -> None:
    from playwright.sync_api import expect

    log_in(page, site, "wangqiang")
    expect(page.locator(".who .person")).to_have_text("王强")
    expect(page.locator(".clock")).to_contain_text(END.isoformat())
    due = page.locator("tr.task .due").all_inner_texts()
    assert len(due) >= 4, due
    assert any(t.startswith("逾期") for t in due) and any(t.endswith("天后到期") for t in due), due
    page.screenshot(path=str(SHOTS / "journey_inbox.png"), full_page=True)

    page.locator("tr.task").filter(has_text="制定会议计划").first.get_by_role("link", name="制定会议计划").click()
    expect(page.locator("h1")).to_have_text("制定会议计划")
    page.fill("#f-topic", "学习贯彻安全生产会议精神")
    page.fill("#f-meeting_on", (END - timedelta(days=1)).isoformat())  # yesterday: the plan's check refuses it
    page.fill("#f-place", "综采一队会议室")
    page.select_option("#f-chair", "wangqiang")
    page.select_option("#f-recorder", "liming")
    for person in ("wangqiang", "liming", "zhangwei"):
        page.check(f"[data-field=expected] input[value={person}]")
    page.locator("form.task-form button[type=submit]").click()

    error = page.locator("[data-field=meeting_on] .field-error")
    expect(error).to_have_text("计划召开日期不能早于今天")
    expect(page.locator("[data-field=meeting_on]")).to_have_class("field field-date has-error")
    expect(page.locator("#f-topic")).to_have_value("学习贯彻安全生产会议精神")  # what was typed is kept
    page.screenshot(path=str(SHOTS / "journey_task.png"), full_page=True)

    page.fill("#f-meeting_on", (END + timedelta(days=5)).isoformat())
    page.locator("form.task-form button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("已完成「制定会议计划」")
    expect(page.locator("h1")).to_have_text("确定议题")  # the same meeting's next step is the secretary's too
    expect(page.locator(".field-error")).to_have_count(0)


def test_organisation_department_lints_deploys_and_starts_a_procedure(page: Page, site: str) -> None:
    from playwright.sync_api import expect

    log_in(page, site, "zhoumin")
    page.get_by_role("link", name="流程库").click()
    expect(page.locator("tr.latest")).to_have_count(8)  # the demo deployed the whole library

    page.set_input_files("#bpmn", files=[{"name": "branch_meeting.bpmn", "mimeType": "application/xml",
                                          "buffer": BROKEN}])
    page.get_by_role("button", name="检查").click()
    expect(page.locator("[role=status]")).to_contain_text("检查未通过：1 个错误")
    expect(page.locator("tr.issue-error")).to_contain_text("bad-lean-class")
    expect(page.locator("form[action='/library/deploy']")).to_have_count(0)
    # Clicking the finding outlines its element on the uploaded diagram.
    page.locator("tr.issue-error").first.click()
    expect(page.locator("figure.diagram [data-element-id='prepare_agenda'].lf-picked")).to_have_count(1)

    page.get_by_role("link", name="修改后重新上传").click()
    page.set_input_files("#bpmn", files=[{"name": "branch_meeting.bpmn", "mimeType": "application/xml",
                                          "buffer": MEETING}])
    page.get_by_role("button", name="检查").click()
    expect(page.locator("[role=status]")).to_contain_text("检查通过")
    page.get_by_role("button", name="部署为新版本").click()
    expect(page.locator(".flash-success")).to_contain_text("已部署「支部党员大会（演示）」第 1 版")

    page.locator("tr[data-process=branch_meeting]").get_by_role("link", name="发起").click()
    page.select_option("#org_unit", "zongcai1")
    page.fill("#title", "综采一队四月党员大会")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("综采一队四月党员大会")
    expect(page.locator(".flash-success")).to_contain_text("已发起")
    expect(page.locator("tr.step.state-ready")).to_contain_text("拟定议程")
    expect(page.locator(".verify-ok")).to_contain_text("完整")


def test_auditor_reads_an_instance_and_can_change_nothing(page: Page, site: str) -> None:
    from playwright.sync_api import expect

    log_in(page, site, "heping")
    expect(page.locator(".badge")).to_have_text("只读")
    expect(page.locator(".empty")).to_contain_text("审计人员只读")
    page.get_by_role("link", name="流程实例").click()
    page.get_by_role("link", name="发展党员 · 秦岚（机关党支部）").click()
    expect(page.locator("h1")).to_have_text("发展党员 · 秦岚（机关党支部）")

    diagram = page.locator("figure.diagram svg")
    expect(diagram).to_be_visible()
    assert diagram.locator(".state-completed").count() >= 10
    assert diagram.locator(".state-not_reached").count() >= 10
    active = diagram.locator(".state-active .lf-shape").first
    assert active.evaluate("e => getComputedStyle(e).fill") == "rgb(255, 240, 217)"  # open step in orange
    assert page.locator("ol.timeline li").count() >= 30
    expect(page.locator("ol.timeline")).to_contain_text("D12")
    expect(page.locator(".verify-ok")).to_contain_text("哈希链无断裂")
    expect(page.locator("main button")).to_have_count(0)
    expect(page.locator("main form")).to_have_count(0)
    page.screenshot(path=str(SHOTS / "journey_instance.png"))  # the top: facts, verify status, diagram

    page.locator("tr.step.state-ready").get_by_role("link").first.click()  # the open step, D13
    expect(page.locator(".hint")).to_contain_text("不能办理")
    expect(page.locator("main form")).to_have_count(0)
    page.get_by_role("link", name="流程库").click()
    expect(page.locator("#bpmn")).to_have_count(0)
    expect(page.get_by_role("link", name="发起")).to_have_count(0)


def test_logout_ends_the_session(page: Page, site: str) -> None:
    from playwright.sync_api import expect

    log_in(page, site, "sungang")
    assert page.locator("tr.task").count() >= 2  # his March dues and his self-evaluation
    page.get_by_role("button", name="退出").click()
    expect(page.locator(".flash-info")).to_contain_text("已退出登录")
    expect(page.locator("h1")).to_have_text("登录")
    page.goto(f"{site}/inbox/")
    assert "/login" in page.url
    expect(page.locator("#person_id")).to_be_visible()
