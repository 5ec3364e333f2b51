"""The hash-chained history: verify names any edited, deleted, inserted or reordered event."""

from __future__ import annotations

from sqlalchemy import text

from engine.service import WorkflowService


def _meeting(service: WorkflowService) -> int:
    instance = service.start("branch_meeting", org_unit_id="b1", actor="zhang")
    service.complete(instance.open_tasks[0].id, person_id="zhang",
                     data={"agenda": "议程", "meeting_date": "2026-03-02"})
    return instance.id


def _sql(service: WorkflowService, statement: str, **params: object) -> None:
    assert service.db_engine is not None
    with service.db_engine.begin() as conn:
        conn.execute(text(statement), params)


def _event_ids(service: WorkflowService, instance_id: int) -> list[int]:
    return [e.id for e in service.history(instance_id)]


def test_untouched_history_verifies(service: WorkflowService) -> None:
    _meeting(service)
    report = service.verify()
    assert report.ok and report.events > 5 and report.chains == 2


def test_edited_payload_is_named(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    victim = service.history(instance_id)[3]
    payload = '{"task": 1, "forged": true}'
    _sql(service, "UPDATE event SET payload = :p WHERE id = :id", p=payload, id=victim.id)
    problems = service.verify().problems
    assert [(p.event_id, p.problem) for p in problems] == [(victim.id, "content was edited (hash mismatch)")]


def test_edited_actor_is_named(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    victim = [e for e in service.history(instance_id) if e.type == "task_completed"][0]
    _sql(service, "UPDATE event SET actor = 'li' WHERE id = :id", id=victim.id)
    assert [p.event_id for p in service.verify().problems] == [victim.id]


def test_deleted_event_is_found(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    ids = _event_ids(service, instance_id)
    _sql(service, "DELETE FROM event WHERE id = :id", id=ids[2])
    problems = service.verify().problems
    assert any(p.event_id == ids[3] and "missing before it" in p.problem for p in problems)
    assert any(p.event_id is None and "tail" in p.problem for p in problems)


def test_deleted_tail_is_found(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    ids = _event_ids(service, instance_id)
    _sql(service, "DELETE FROM event WHERE id = :id", id=ids[-1])
    problems = service.verify().problems
    assert len(problems) == 1 and problems[0].chain == f"instance:{instance_id}"
    assert "recorded head says" in problems[0].problem


def test_reordered_events_are_found(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    ids = _event_ids(service, instance_id)
    a, b = ids[1], ids[2]
    _sql(service, "UPDATE event SET chain_seq = -1 WHERE id = :a", a=a)
    _sql(service, "UPDATE event SET chain_seq = 2 WHERE id = :b", b=b)
    _sql(service, "UPDATE event SET chain_seq = 3 WHERE id = :a", a=a)
    named = {p.event_id for p in service.verify().problems}
    assert {a, b} <= named


def test_inserted_event_is_found(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    events = service.history(instance_id)
    last = events[-1]
    # A forger appends a plausible event with a fresh hash but cannot fix the recorded head.
    _sql(service, "INSERT INTO event (chain, chain_seq, instance_id, type, actor, at, payload, prev_hash, hash) "
                  "VALUES (:c, :s, :i, 'task_completed', 'li', :at, '{}', :prev, :h)",
         c=last.chain, s=last.chain_seq + 1, i=instance_id, at=last.at.replace(tzinfo=None), prev=last.hash,
         h="f" * 64)
    problems = service.verify().problems
    assert any("hash mismatch" in p.problem for p in problems)
    assert any("recorded head" in p.problem for p in problems)


def test_whole_instance_history_deleted_is_found(service: WorkflowService) -> None:
    instance_id = _meeting(service)
    _sql(service, "DELETE FROM event WHERE instance_id = :i", i=instance_id)
    _sql(service, "UPDATE process_instance SET history_length = 0, history_head = NULL WHERE id = :i",
         i=instance_id)
    problems = service.verify().problems
    assert [p.problem for p in problems] == [f"instance {instance_id} has no history (chain deleted)"]


def test_deployments_are_on_the_system_chain(service: WorkflowService) -> None:
    types = [e.type for e in service.system_history()]
    assert types == ["org_imported", "deployed", "deployed"]
