"""Accounts: passwords, the person acting (their roles), the rights those roles give, and what they see.

Rights are checked here, in the engine, so every caller (web UI, API, CLI) gets the same answer:

* holding ``auditor`` makes an account read-only: it reads everything and changes nothing;
* only ``committee`` or ``admin`` deploy procedures, and start instances at a unit they hold the role at
  (or at an ancestor of it);
* a person reads an instance when they read everything (auditor, admin), hold any role at its unit or an
  ancestor, started it, or have had one of its tasks;
* completing, claiming and giving back tasks stay with the runtime's own check (theirs or their role's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.history import SYSTEM_CHAIN, NewEvent
from engine.unit_of_work import UnitOfWork
from engine.views import InstanceView, TaskView

__all__ = ["DEPLOY_ROLES", "READ_ALL_ROLES", "READ_ONLY_ROLES", "START_ROLES", "AccountView", "InboxEntry", "Principal",
           "RoleHeld", "UnitView", "accounts", "authenticate", "ensure_may_change", "ensure_may_deploy",
           "ensure_may_read", "ensure_may_start", "hash_password", "involved", "must_be", "principal",
           "set_password", "units", "verify_password"]

DEPLOY_ROLES = frozenset({"committee", "admin"})
START_ROLES = frozenset({"committee", "admin"})
READ_ONLY_ROLES = frozenset({"auditor"})
READ_ALL_ROLES = frozenset({"auditor", "admin"})
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

# argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane): about 25 ms on one core here; the library's default
# (64 MiB, 3 passes, 4 lanes) takes most of a second on a two-core server, for every login.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the person has no password, so a wrong id costs as long as a wrong password.
_DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$3uSJbumA2Knr86BzIEsiSQ$lbCeDEQasqFBel9A6KrPHX2G1iPUSmTJDL6FA43WvP8"


@dataclass(frozen=True)
class RoleHeld:
    """A role a person holds today at an org unit (with the unit's materialised path)."""

    role: str
    org_unit_id: str
    org_path: str


@dataclass(frozen=True)
class Principal:
    """The person acting, with their roles today; every right of the UI is a property of this."""

    id: str
    name: str
    org_unit_id: str | None
    roles: tuple[RoleHeld, ...]
    stamp: str  # changes when the password does, so sessions opened with the old one end

    def holds(self, *roles: str) -> bool:
        """Tell whether the person holds any of these roles anywhere."""
        return any(r.role in roles for r in self.roles)

    @property
    def read_only(self) -> bool:
        """True for auditors: they read everything and change nothing."""
        return self.holds(*READ_ONLY_ROLES)

    @property
    def reads_everything(self) -> bool:
        """True for auditors and admins."""
        return self.holds(*READ_ALL_ROLES)

    @property
    def may_deploy(self) -> bool:
        """True for committee members and admins who are not auditors."""
        return not self.read_only and self.holds(*DEPLOY_ROLES)

    def may_start_at(self, org_path: str) -> bool:
        """Tell whether the person may start an instance at the unit with this path."""
        return not self.read_only and any(r.role in START_ROLES and org_path.startswith(r.org_path)
                                          for r in self.roles)

    def may_read_unit(self, org_path: str) -> bool:
        """Tell whether the person reads the unit's instances by their roles (not by involvement)."""
        return self.reads_everything or any(org_path.startswith(r.org_path) for r in self.roles)


@dataclass(frozen=True)
class AccountView:
    """A person as a login: who, where, which roles, whether a password is set."""

    id: str
    name: str
    org_unit_id: str | None
    membership: str | None
    roles: tuple[tuple[str, str], ...]  # (role, org unit id)
    has_password: bool
    active: bool


@dataclass(frozen=True)
class UnitView:
    """An org unit of the tree."""

    id: str
    name: str
    kind: str
    parent_id: str | None
    path: str

    @property
    def depth(self) -> int:
        """How deep the unit is (the root is 0)."""
        return self.path.strip("/").count("/")


@dataclass(frozen=True)
class InboxEntry:
    """A task in a person's inbox, with its instance, its procedure's name and what the person may do with it."""

    task: TaskView
    instance: InstanceView
    procedure: str
    may_claim: bool
    may_unclaim: bool


def hash_password(password: str) -> str:
    """Hash a new password with argon2id; refuse one too short or too long."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 个字符 / a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"密码最多 {MAX_PASSWORD} 个字符 / a password has at most {MAX_PASSWORD} characters")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password against a stored hash (False for none), spending the same time either way."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _stamp(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode("utf-8")).hexdigest()[:16]


def principal(uow: UnitOfWork, person_id: str) -> Principal | None:
    """Return the acting person with today's roles, or None when unknown or inactive."""
    person = uow.orgs.get_person(person_id)
    if person is None or not person.active:
        return None
    roles = tuple(RoleHeld(r, u, p) for r, u, p in uow.orgs.roles_of(person_id, uow.now.date()))
    return Principal(person.id, person.name, person.org_unit_id, roles, _stamp(person.password_hash))


def must_be(uow: UnitOfWork, person_id: str) -> Principal:
    """Return the acting person or refuse an unknown or inactive one."""
    found = principal(uow, person_id)
    if found is None:
        raise NotFound(f"person {person_id} does not exist or is not active")
    return found


def authenticate(uow: UnitOfWork, person_id: str, password: str) -> Principal | None:
    """Return the person when the password is theirs (upgrading an outdated hash), else None."""
    person = uow.orgs.get_person(person_id) if person_id else None
    stored = person.password_hash if person is not None else None
    if not verify_password(stored, password) or person is None or not person.active:
        return None
    if stored is not None and _HASHER.check_needs_rehash(stored):
        person.password_hash = _HASHER.hash(password)
    return principal(uow, person.id)


def set_password(uow: UnitOfWork, person_id: str, password: str, actor: str | None) -> None:
    """Set a person's password and record that it changed (never the hash) in the system history."""
    person = uow.orgs.get_person(person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    uow.orgs.save_person(person_id, password_hash=hash_password(password))
    uow.record(SYSTEM_CHAIN, None, NewEvent("password_set", uow.now, actor, payload={"person": person_id}))


def accounts(uow: UnitOfWork) -> list[AccountView]:
    """List every person as a login, with the roles they hold today."""
    day = uow.now.date()
    return [AccountView(p.id, p.name, p.org_unit_id, p.membership,
                        tuple((r, u) for r, u, _ in uow.orgs.roles_of(p.id, day)),
                        p.password_hash is not None, bool(p.active))
            for p in uow.orgs.people()]


def units(uow: UnitOfWork) -> list[UnitView]:
    """List the org units in tree order."""
    return [UnitView(u.id, u.name, u.kind, u.parent_id, u.path) for u in uow.orgs.units()]


def ensure_may_change(who: Principal) -> None:
    """Refuse a read-only account (an auditor) any change."""
    if who.read_only:
        raise NotAllowed(f"{who.id} 是审计人员，只能查看，不能更改 / auditors read and change nothing")


def ensure_may_deploy(who: Principal) -> None:
    """Refuse anyone but committee members and admins the deployment of procedures."""
    ensure_may_change(who)
    if not who.may_deploy:
        raise NotAllowed(f"{who.id} 无权部署流程：需党委或管理员角色 / only the committee or an admin deploys")


def ensure_may_start(uow: UnitOfWork, who: Principal, org_unit_id: str) -> None:
    """Refuse to start an instance at a unit where the person holds neither committee nor admin (nor above it)."""
    ensure_may_change(who)
    unit = uow.orgs.get_unit(org_unit_id)
    if unit is None:
        raise NotFound(f"org unit {org_unit_id} does not exist")
    if not who.may_start_at(unit.path):
        raise NotAllowed(f"{who.id} 无权在 {unit.name} 发起流程：需该单位或上级的党委或管理员角色 / "
                         f"only the committee or an admin of {org_unit_id} or above starts procedures there")


def involved(uow: UnitOfWork, who: Principal, instance: Any) -> bool:
    """Tell whether the person started the instance or had one of its tasks."""
    if instance.started_by == who.id:
        return True
    return any(who.id in (t.assignee, t.completed_by) for t in uow.tasks.for_instance(instance.id))


def ensure_may_read(uow: UnitOfWork, who: Principal, instance_id: int) -> Any:
    """Return the instance row if the person may read it; refuse otherwise."""
    instance = uow.instances.get(instance_id)
    if instance is None:
        raise NotFound(f"instance {instance_id} does not exist")
    unit = uow.orgs.get_unit(instance.org_unit_id)
    if (unit is not None and who.may_read_unit(unit.path)) or involved(uow, who, instance):
        return instance
    raise NotAllowed(f"{who.id} 无权查看流程实例 {instance_id} / may not read instance {instance_id}")
