"""The hash-chained history: how an event's hash is made, and how a chain is verified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended to a chain."""

    type: str
    at: datetime
    actor: str | None = None
    task_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back from the history."""

    id: int
    chain: str
    chain_seq: int
    instance_id: int | None
    task_id: str | None
    type: str
    actor: str | None
    at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainProblem:
    """Something verify found wrong, naming the event (or the chain) it concerns."""

    chain: str
    event_id: int | None
    chain_seq: int | None
    problem: str


def canonical(payload: Any) -> str:
    """Serialise JSON the one way hashes are computed over."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(
    *, prev_hash: str, chain: str, chain_seq: int, instance_id: int | None, task_id: str | None,
    type: str, actor: str | None, at: datetime, payload: dict[str, Any],
) -> str:
    """Hash an event's content together with the hash of the event before it."""
    body = canonical(
        {
            "chain": chain,
            "seq": chain_seq,
            "instance": instance_id,
            "task": task_id,
            "type": type,
            "actor": actor,
            "at": at.isoformat(timespec="microseconds"),
            "payload": payload,
        }
    )
    return hashlib.sha256((prev_hash + "|" + body).encode("utf-8")).hexdigest()


def verify_chain(chain: str, events: Iterable[StoredEvent], head: tuple[int, str] | None) -> list[ChainProblem]:
    """Check one chain's events (in chain order) link up, hash right and end at the recorded head."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS
    expected_seq = 1
    last_id = 0
    count = 0
    for event in events:
        count += 1
        if event.chain_seq != expected_seq:
            what = "missing before it" if event.chain_seq > expected_seq else "duplicated or reordered"
            problems.append(ChainProblem(chain, event.id, event.chain_seq,
                                         f"expected position {expected_seq}, found {event.chain_seq} ({what})"))
        if event.id <= last_id:
            problems.append(ChainProblem(chain, event.id, event.chain_seq, "out of order with the global sequence"))
        if event.prev_hash != expected_prev:
            problems.append(ChainProblem(chain, event.id, event.chain_seq,
                                         "does not link to the event before it (inserted, deleted or reordered)"))
        actual = event_hash(
            prev_hash=event.prev_hash, chain=event.chain, chain_seq=event.chain_seq,
            instance_id=event.instance_id, task_id=event.task_id, type=event.type,
            actor=event.actor, at=event.at, payload=event.payload,
        )
        if actual != event.hash:
            problems.append(ChainProblem(chain, event.id, event.chain_seq, "content was edited (hash mismatch)"))
        expected_prev = event.hash
        expected_seq = event.chain_seq + 1
        last_id = event.id
    if head is None:
        if count:
            problems.append(ChainProblem(chain, None, None, "chain has events but no recorded head"))
    else:
        length, head_hash = head
        if length != count or head_hash != expected_prev:
            problems.append(ChainProblem(chain, None, None,
                                         f"recorded head says {length} events, found {count} (tail deleted or added)"))
    return problems


def hash_events(chain: str, instance_id: int | None, events: list[NewEvent],
                head: tuple[int, str | None] | None) -> tuple[list[dict[str, Any]], tuple[int, str]]:
    """Chain new events onto a head; return the rows to insert and the new head."""
    length, prev = head if head else (0, GENESIS)
    prev = prev or GENESIS
    rows = []
    for event in events:
        length += 1
        digest = event_hash(
            prev_hash=prev, chain=chain, chain_seq=length, instance_id=instance_id, task_id=event.task_id,
            type=event.type, actor=event.actor, at=event.at, payload=event.payload,
        )
        rows.append({
            "chain": chain, "chain_seq": length, "instance_id": instance_id, "task_id": event.task_id,
            "type": event.type, "actor": event.actor, "at": event.at, "payload": event.payload,
            "prev_hash": prev, "hash": digest,
        })
        prev = digest
    return rows, (length, prev)


def instance_chain(instance_id: int) -> str:
    """Name the chain of one instance."""
    return f"instance:{instance_id}"


SYSTEM_CHAIN = "system"


def stored_event(e: Any) -> StoredEvent:
    """Read a stored event row back as a StoredEvent."""
    return StoredEvent(e.id, e.chain, e.chain_seq, e.instance_id, e.task_id, e.type, e.actor, e.at, e.payload,
                       e.prev_hash, e.hash)
