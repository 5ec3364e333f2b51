"""The demo: a fresh SQLite database where the coal mine's party committee has worked from September 2024 to
April 2026 through the real engine under the virtual clock, every person with a password, ready to serve.

The story (leanflow/demo_story.py drives it day by day): 卫东 applied in 2024 and is now a probationary member,
秦岚 is at the higher committee's pre-review, 唐宁 is an activist in cultivation, 姜涛, 沈宇 and 谢毅 applied this
spring, 韩雪 was refused as under 18; 三会一课 and 主题党日 ran from the schedules since January, most on time,
some late after the higher committee's supervision, a few missed; 星级党支部评定 for 2025, the 2026 goals,
February's and March's dues, a spearhead team for the 3103 face, and the 2025 民主评议 have begun or finished.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from engine.accounts import hash_password
from engine.errors import CheckFailed
from engine.service import WorkflowService, open_service
from leanflow.demo_story import (
    BRANCHES,
    SHANGHAI,
    DevelopmentAgent,
    DuesAgent,
    Mine,
    Simulation,
    democratic_appraisal,
    goal_management,
    spearhead_team,
    star_rating,
)

DEMO = Path(__file__).parent / "demo"
PROCESSES = Path(__file__).parent.parent / "processes"
START = datetime(2024, 9, 2, 9, 0, tzinfo=SHANGHAI)  # Monday: 卫东 hands in his application
SCHEDULES_FROM = date(2026, 1, 5)  # 三会一课 run from the schedules from this Monday on
END = date(2026, 4, 9)  # Thursday: the clock stops here, at 09:00, for the web UI
DEFAULT_PASSWORD = "demo1234"  # the engine wants eight characters at least
# One login per role, as the demo prints them: (role, person).
LOGINS = [("支部书记 branch secretary", "wangqiang"), ("党委委员 committee member", "liujianguo"),
          ("组织部 organisation dept", "zhoumin"), ("党员 party member", "sungang"),
          ("入党申请人 applicant", "xieyi"), ("审计 auditor (read-only)", "heping"), ("管理员 admin", "admin")]
STEPS = 7
Files = Callable[[str, bytes], dict[str, Any]]


def run_demo(db_path: Path, echo: Callable[[str], None], *, password: str = DEFAULT_PASSWORD,
             files: Files | None = None) -> WorkflowService:
    """Create a fresh database and live a year and a half of the coal mine's party work; return the service."""
    hash_password(password)  # refuse a password the engine would refuse, before the work
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    service = open_service(f"sqlite:///{db_path}")
    service.set_clock(START, actor="admin")
    units, people = service.import_org((DEMO / "coal_mine.yaml").read_text(encoding="utf-8"), "coal_mine.yaml",
                                       actor="admin")
    echo(f"[1/{STEPS}] {db_path}: 东山煤矿党委, {units} org units, {people} people; virtual clock at "
         f"{START:%Y-%m-%d %H:%M} Beijing")
    for path in sorted(PROCESSES.glob("*.bpmn")):
        view = service.deploy_file(path, actor="zhoumin")
        echo(f"      deployed {view.process_id} v{view.version}: {view.name}")
    echo(f"[2/{STEPS}] the procedure library is deployed")

    mine = Mine(service, echo, files or reference)
    sim = Simulation(mine)
    _script(sim, mine, echo)
    sim.run(SCHEDULES_FROM)
    echo(f"[3/{STEPS}] {SCHEDULES_FROM}: 发展党员 under way for 卫东, 秦岚 and 唐宁 since 2024-2025")
    sim.run(END)
    _compliance(service, echo)
    echo(f"[5/{STEPS}] {END} 09:00, where the clock stays: {_counts(service)}")
    for person in service.users():
        service.set_password(person.id, password, actor="admin")
    echo(f"[6/{STEPS}] every one of the {people} people logs in with the password {password!r}")
    report = service.verify()
    echo(f"[7/{STEPS}] history: {report.events} events in {report.chains} hash chains, "
         f"{'intact' if report.ok else 'TAMPERED'}")
    return service


def _script(sim: Simulation, mine: Mine, echo: Callable[[str], None]) -> None:
    """The dated events of the story; agents do everything that follows from them."""
    service = mine.service

    def develop(applicant: str, unit: str, stop: tuple[str, ...], rule: str | None = None) -> None:
        data = {"applicant": applicant, **({"rule_version": rule} if rule else {})}
        title = f"发展党员 · {mine.name(applicant)}（{mine.unit_name[unit]}）"
        view = service.start("member_development", org_unit_id=unit, data=data, actor=mine.holder("secretary", unit),
                             title=title, business_key=applicant)
        sim.follow(view, DevelopmentAgent(BRANCHES[unit], applicant, stop))

    def schedules() -> None:
        saved = service.import_schedules((DEMO / "schedules.yaml").read_text(encoding="utf-8"), "schedules.yaml",
                                         actor="zhoumin")
        sim.adopt_meetings = True
        echo(f"      {mine.iso()}: {len(saved)} schedules of 三会一课 and 主题党日 imported")
        for unit, stop in (("zongcai1", None), ("juejin2", "decide"), ("jiguan", "self_eval")):
            rating = service.start("branch_assessment", org_unit_id=unit, actor="zhoumin",
                                   data={"branch": unit, "year": 2025},
                                   title=f"星级党支部评定 · 2025年度 · {mine.unit_name[unit]}")
            sim.follow(rating, star_rating(unit, stop))
        sim.follow(service.start("goal_management", org_unit_id="zongcai1", actor="zhoumin",
                                 title="目标管理 · 2026年度 · 综采一队党支部"), goal_management())

    def dues(unit: str, period: str, unpaid: tuple[str, ...], unreceipted: tuple[str, ...]) -> None:
        organizer = mine.holder("organizer", unit)
        bases = [4200, 5600, 3800, 6800, 4500, 5200, 7400, 3600, 4900, 6100, 5000]
        for n, member in enumerate(mine.members(unit)):
            view = service.start("party_dues", org_unit_id=unit, actor=organizer,
                                 data={"member": member, "period": period, "base": bases[n % len(bases)],
                                       "category": "employed"},
                                 title=f"党费 · {mine.name(member)} · {period}", business_key=f"{member}:{period}")
            late = member in unreceipted
            sim.follow(view, DuesAgent(member, None if member in unpaid else (33 + n % 3 if late else 1 + 2 * n),
                                       receipted=not late))
        echo(f"      {mine.iso()}: {period} dues opened for {len(mine.members(unit))} members of {unit}")

    def spring() -> None:
        develop("shenyu", "zongcai1", stop=("d02_talk", "esc_talk"))
        minor = service.start("member_development", org_unit_id="zongcai1", data={"applicant": "hanxue"},
                              actor="wangqiang", title="发展党员 · 韩雪（综采一队党支部）", business_key="hanxue")
        try:
            service.complete(minor.open_tasks[0].id, person_id="hanxue",
                             data={"application_date": mine.iso(), "unit_name": "东山煤矿",
                                   "application_letter": mine.file("入党申请书.pdf", b"hanxue")})
        except CheckFailed as refused:
            echo(f"      {mine.iso()} 韩雪's application refused, nothing changed: {refused.failures[0].message}")
        sim.on(date(2026, 3, 3), lambda: service.cancel(minor.id, actor="wangqiang",
                                                         reason="申请人未满十八周岁，不予受理"))
        sim.follow(service.start("spearhead_team", org_unit_id="zongcai1", actor="zhoumin",
                                 title="党员突击队 · 3103工作面搬家倒面"), spearhead_team())
        dues("zongcai1", "2026-03", unpaid=("sungang", "zhengtao"), unreceipted=("chenchen", "wuhao"))
        dues("juejin2", "2026-03", unpaid=(), unreceipted=("linfeng", "yangfan"))

    sim.on(date(2024, 9, 2), lambda: develop("weidong", "zongcai1", stop=(), rule="2014"))
    sim.on(date(2025, 3, 3), lambda: develop("qinlan", "jiguan", stop=("d13_prereview",), rule="2014"))
    sim.on(date(2025, 6, 3), lambda: develop("tangning", "juejin2", stop=("d06_conclusion",), rule="2014"))
    sim.on(SCHEDULES_FROM, schedules)
    sim.on(date(2026, 2, 2), lambda: dues("zongcai1", "2026-02", unpaid=(), unreceipted=()))
    sim.on(date(2026, 3, 2), spring)
    sim.on(date(2026, 3, 9), lambda: develop("jiangtao", "zongcai1", stop=("d03_activist",)))
    sim.on(date(2026, 3, 30), lambda: sim.follow(
        service.start("democratic_appraisal", org_unit_id="zongcai1", actor="wangqiang",
                      title="民主评议党员 · 2025年度 · 综采一队党支部"), democratic_appraisal()))
    sim.on(date(2026, 4, 7), lambda: develop("xieyi", "juejin2", stop=("d01_apply",)))


def _compliance(service: WorkflowService, echo: Callable[[str], None]) -> None:
    rows = [r for r in service.compliance(process_id="meeting") if r.period not in ("2026-04", "2026-Q2")]
    marks = {"on_time": "✓", "late": "!", "missed": "✗", "open": "…"}
    echo(f"[4/{STEPS}] 三会一课 compliance, January to March (✓ on time, ! late, ✗ missed, … open):")
    by_unit: dict[str, dict[str, str]] = {}
    for r in sorted(rows, key=lambda r: r.period):
        kinds = by_unit.setdefault(r.org_unit_id, {})
        kind = str(r.params.get("meeting_type"))
        kinds[kind] = kinds.get(kind, "") + marks.get(r.status, "?")
    for unit, kinds in sorted(by_unit.items()):
        echo(f"        {unit:12} " + "  ".join(f"{k} {v}" for k, v in kinds.items()))


def _counts(service: WorkflowService) -> str:
    total = Counter(v.status for v in service.instances())
    return (f"{sum(total.values())} instances (" + ", ".join(f"{n} {s}" for s, n in sorted(total.items())) + ")")


def counts_by_procedure(service: WorkflowService) -> list[tuple[str, str, int]]:
    """(procedure, status, how many) for every instance of the database."""
    counts = Counter((v.process_id, v.status) for v in service.instances())
    return sorted((p, s, n) for (p, s), n in counts.items())


def reference(name: str, content: bytes) -> dict[str, Any]:
    """An attachment as the engine records it, for a file that is not kept anywhere."""
    import hashlib

    pdf = tiny_pdf(content.decode("utf-8", "replace"))
    return {"sha256": hashlib.sha256(pdf).hexdigest(), "name": name, "size": len(pdf), "type": "application/pdf"}


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF that says text (ASCII letters only; others become '?')."""
    line = "".join(c if c.isascii() and c.isprintable() and c not in "()\\" else "?" for c in text)
    stream = f"BT /F1 18 Tf 72 720 Td ({line}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def logins(service: WorkflowService) -> list[tuple[str, str, str, str]]:
    """(role, person id, name, unit) of the demo's logins, one per role."""
    people = {p.id: p for p in service.users()}
    units = {u.id: u.name for u in service.org_units()}
    return [(role, pid, people[pid].name, units.get(people[pid].org_unit_id or "", "-")) for role, pid in LOGINS]


def demo_hint(db_path: Path) -> str:
    """Tell the user what to look at from the command line."""
    url = f"sqlite:///{db_path}"
    return (f"try: leanflow --db {url} tasks --user wangqiang\n"
            f"     leanflow --db {url} compliance --org zongcai1\n"
            f"     leanflow --db {url} users\n"
            f"     leanflow --db {url} verify")


__all__ = ["DEFAULT_PASSWORD", "END", "LOGINS", "counts_by_procedure", "demo_hint", "file_store", "logins", "run_demo",
           "tiny_pdf"]


def file_store(folder: Path) -> Files:
    """Keep the demo's attachments in the web UI's file store at folder, so their links download."""
    import io

    from webui.attachments import FileStore

    store = FileStore(folder, max_bytes=10 * 1024 * 1024)

    def save(name: str, content: bytes) -> dict[str, Any]:
        return store.save_attachment(io.BytesIO(tiny_pdf(content.decode("utf-8", "replace"))), name)

    return save
