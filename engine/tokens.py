"""API tokens: a random bearer token per API client, shown once; only its sha256 is stored.

A token is ``lf_`` followed by 43 URL-safe characters (32 random bytes). It is found by the sha256 of what the
client presents, so no stored secret is ever compared character by character: a near miss and a wild guess
look up different hashes and take the same time. The token acts as its person, with the roles they hold on
the day of the request; it stops working when it is revoked or the person is made inactive. Issuing and
revoking are recorded in the system history (the name and id, never the hash).

The functions taking a UnitOfWork run inside the caller's transaction; ``issue_token``, ``verify_token``,
``revoke_token`` and ``tokens_of`` open one themselves on anything with ``unit()`` (a WorkflowService), which is
what the web UI and the CLI call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from engine import accounts
from engine.errors import InvalidInput, NotFound
from engine.history import SYSTEM_CHAIN, NewEvent
from engine.unit_of_work import UnitOfWork
from storage.models import ApiToken
from storage.repositories import ApiTokenRepository

__all__ = ["PREFIX", "IssuedToken", "TokenView", "issue", "issue_token", "list_tokens", "revoke", "revoke_token",
           "token_hash", "tokens_of", "verify", "verify_token"]

PREFIX = "lf_"
TOKEN_BYTES = 32
MAX_NAME = 200
MAX_PRESENTED = 200  # anything longer is not one of ours; refused before hashing
# last_used_at is written at most this often, so a busy client does not rewrite its row on every request.
TOUCH_EVERY = timedelta(minutes=1)


class _Units(Protocol):
    def unit(self) -> AbstractContextManager[UnitOfWork]: ...


@dataclass(frozen=True)
class TokenView:
    """A token as its owner and admins see it: never the secret, never the hash."""

    id: int
    name: str
    person_id: str
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        """True once the token has been revoked."""
        return self.revoked_at is not None


@dataclass(frozen=True)
class IssuedToken:
    """A newly issued token: ``secret`` is shown to the person once and is not kept anywhere."""

    secret: str
    token: TokenView


def token_hash(presented: str) -> str:
    """Return the sha256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def _view(row: ApiToken) -> TokenView:
    return TokenView(row.id, row.name, row.person_id, row.created_at, row.created_by, row.last_used_at,
                     row.revoked_at)


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split()) if isinstance(name, str) else ""
    if not cleaned:
        raise InvalidInput("令牌须有名称（例如用途） / a token needs a name (what it is for)")
    if len(cleaned) > MAX_NAME or not cleaned.isprintable():
        raise InvalidInput(f"令牌名称最多 {MAX_NAME} 个可见字符 / a token name has at most {MAX_NAME} printable "
                           "characters")
    return cleaned


def issue(uow: UnitOfWork, person_id: str, *, name: str, actor: str | None = None) -> IssuedToken:
    """Issue a new token for an active person; return it with the secret, which is not stored."""
    accounts.must_be(uow, person_id)
    secret = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiTokenRepository(uow.session).add(ApiToken(
        token_hash=token_hash(secret), name=_clean_name(name), person_id=person_id, created_at=uow.now,
        created_by=actor))
    uow.record(SYSTEM_CHAIN, None, NewEvent("api_token_issued", uow.now, actor,
                                            payload={"person": person_id, "token": row.id, "name": row.name}))
    return IssuedToken(secret, _view(row))


def verify(uow: UnitOfWork, presented: str) -> accounts.Principal | None:
    """Return the person a presented token acts for, or None when it is unknown, revoked or their account is not."""
    if not isinstance(presented, str) or not presented.startswith(PREFIX) or len(presented) > MAX_PRESENTED:
        return None
    digest = token_hash(presented)
    row = ApiTokenRepository(uow.session).by_hash(digest)
    # The lookup by hash is what keeps this constant-time; compare_digest only guards against a database whose
    # collation would match a different string.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    who = accounts.principal(uow, row.person_id)
    if who is not None and (row.last_used_at is None or uow.now - row.last_used_at >= TOUCH_EVERY):
        row.last_used_at = uow.now
    return who


def revoke(uow: UnitOfWork, token_id: int, *, actor: str | None = None, person_id: str | None = None) -> TokenView:
    """Revoke a token (of ``person_id`` when given); revoking it again changes nothing."""
    row = ApiTokenRepository(uow.session).get(token_id)
    if row is None or (person_id is not None and row.person_id != person_id):
        raise NotFound(f"API 令牌 {token_id} 不存在 / API token {token_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = uow.now
        uow.record(SYSTEM_CHAIN, None, NewEvent("api_token_revoked", uow.now, actor,
                                                payload={"person": row.person_id, "token": row.id, "name": row.name}))
    return _view(row)


def list_tokens(uow: UnitOfWork, person_id: str) -> list[TokenView]:
    """List a person's tokens, revoked ones included, oldest first."""
    return [_view(r) for r in ApiTokenRepository(uow.session).for_person(person_id)]


def issue_token(service: _Units, person_id: str, *, name: str, actor: str | None = None) -> IssuedToken:
    """Issue a token in its own transaction (what ``leanflow tokens issue`` calls)."""
    with service.unit() as uow:
        return issue(uow, person_id, name=name, actor=actor)


def verify_token(service: _Units, presented: str) -> accounts.Principal | None:
    """Verify a presented token in its own transaction."""
    with service.unit() as uow:
        return verify(uow, presented)


def revoke_token(service: _Units, token_id: int, *, actor: str | None = None,
                 person_id: str | None = None) -> TokenView:
    """Revoke a token in its own transaction."""
    with service.unit() as uow:
        return revoke(uow, token_id, actor=actor, person_id=person_id)


def tokens_of(service: _Units, person_id: str) -> list[TokenView]:
    """List a person's tokens in their own transaction."""
    with service.unit() as uow:
        return list_tokens(uow, person_id)
