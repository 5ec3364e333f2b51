"""API tokens on SQLite and PostgreSQL: issued once, stored as a hash, verified, touched, revoked, recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import tokens
from engine.clock import VirtualClock
from engine.errors import InvalidInput, NotFound
from engine.service import WorkflowService
from storage.models import ApiToken


def test_a_token_is_issued_once_and_only_its_hash_is_stored(service: WorkflowService) -> None:
    issued = tokens.issue_token(service, "zhang", name="  周报 脚本 ", actor="zhao")
    assert issued.secret.startswith(tokens.PREFIX) and len(issued.secret) == len(tokens.PREFIX) + 43
    assert (issued.token.person_id, issued.token.name, issued.token.created_by) == ("zhang", "周报 脚本", "zhao")
    assert issued.token.last_used_at is None and not issued.token.revoked
    with service.unit() as uow:
        rows = uow.session.scalars(select(ApiToken)).all()
        stored = [(r.token_hash, r.name) for r in rows]
    assert stored == [(tokens.token_hash(issued.secret), "周报 脚本")]
    assert issued.secret not in str(stored)
    other = tokens.issue_token(service, "zhang", name="another")
    assert other.secret != issued.secret
    events = [e for e in service.system_history() if e.type == "api_token_issued"]
    assert [(e.actor, e.payload) for e in events] == [
        ("zhao", {"person": "zhang", "token": issued.token.id, "name": "周报 脚本"}),
        (None, {"person": "zhang", "token": other.token.id, "name": "another"})]
    assert issued.secret not in str(events) and tokens.token_hash(issued.secret) not in str(events)


def test_a_presented_token_acts_as_its_person_with_todays_roles(service: WorkflowService,
                                                                clock: VirtualClock) -> None:
    issued = tokens.issue_token(service, "zhang", name="cli")
    who = tokens.verify_token(service, issued.secret)
    assert who is not None and who.id == "zhang" and who.holds("secretary")
    assert tokens.tokens_of(service, "zhang")[0].last_used_at == clock.now()
    for wrong in ("", "lf_", issued.secret[:-1], issued.secret + "x", issued.secret.upper(),
                  issued.secret[len(tokens.PREFIX):], "lf_" + "a" * 500, tokens.token_hash(issued.secret)):
        assert tokens.verify_token(service, wrong) is None, wrong


def test_last_used_is_written_at_most_once_a_minute(service: WorkflowService, clock: VirtualClock) -> None:
    issued = tokens.issue_token(service, "li", name="poller")
    first = clock.now()
    tokens.verify_token(service, issued.secret)
    clock.advance(timedelta(seconds=30))
    tokens.verify_token(service, issued.secret)
    assert tokens.tokens_of(service, "li")[0].last_used_at == first
    clock.advance(timedelta(seconds=31))
    tokens.verify_token(service, issued.secret)
    assert tokens.tokens_of(service, "li")[0].last_used_at == clock.now()


def test_a_revoked_token_or_an_inactive_person_is_refused(service: WorkflowService) -> None:
    kept, revoked = (tokens.issue_token(service, "wang", name=n) for n in ("kept", "revoked"))
    view = tokens.revoke_token(service, revoked.token.id, actor="zhao")
    assert view.revoked and view.revoked_at is not None
    assert tokens.verify_token(service, revoked.secret) is None
    assert tokens.verify_token(service, kept.secret) is not None
    assert tokens.revoke_token(service, revoked.token.id).revoked_at == view.revoked_at  # again: no change
    assert [e.payload["token"] for e in service.system_history() if e.type == "api_token_revoked"] == [
        revoked.token.id]
    with pytest.raises(NotFound):
        tokens.revoke_token(service, kept.token.id, person_id="zhang")  # someone else's token
    with pytest.raises(NotFound):
        tokens.revoke_token(service, 10**6)
    with service.unit() as uow:
        uow.orgs.save_person("wang", active=False)
    assert tokens.verify_token(service, kept.secret) is None


def test_tokens_need_an_active_person_and_a_name(service: WorkflowService) -> None:
    with pytest.raises(NotFound):
        tokens.issue_token(service, "nobody", name="x")
    for name in ("", "   ", "x" * 201, "tab\x00name"):
        with pytest.raises(InvalidInput):
            tokens.issue_token(service, "zhang", name=name)
    assert tokens.tokens_of(service, "zhang") == []
