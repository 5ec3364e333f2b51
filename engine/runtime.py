"""Instance operations: start, claim, unclaim, open, complete, fire timers, cancel; each one transaction."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from engine.checks import run_checks
from engine.errors import CheckFailed, Conflict, InvalidInput, NotAllowed, NotFound
from engine.forms import EMPTY, validate_form
from engine.history import NewEvent, instance_chain
from engine.model import ProcedureModel
from engine.projection import Projection, jsonable
from engine.rule_helpers import make_helpers
from engine.sandbox import SandboxEnvironment, make_script_engine
from engine.spiff.context import RunContext, running_at
from engine.spiff.parser import ParsedProcess
from engine.spiff.runner import Runner, TaskChange
from engine.spiff.serializer import SERIALIZER_VERSION, Serializer
from engine.unit_of_work import UnitOfWork
from storage.models import ProcessInstance

OPEN = ("ready", "claimed")


@dataclass(frozen=True)
class LoadedDefinition:
    """A definition version ready to run: its specs and its LeanFlow model."""

    id: int
    process_id: str
    name: str
    parsed: ParsedProcess
    model: ProcedureModel


@dataclass
class Loaded:
    """An instance's row values and its live workflow, for one operation."""

    instance_id: int
    version: int
    definition: LoadedDefinition
    runner: Runner
    org_unit_id: str
    status: str
    history_head: tuple[int, str | None] = (0, None)
    row: dict[str, Any] | None = None
    saved: dict[str, Any] | None = None
    open_before: int | None = None
    new_tasks: list[dict[str, Any]] | None = None


class Runtime:
    """Runs instances; keeps specs per version and hot workflows per (instance, version) in memory."""

    def __init__(self, *, serializer: Serializer, cache_size: int = 512, prune: bool = True) -> None:
        self.serializer = serializer
        self.prune = prune
        self._definitions: dict[int, LoadedDefinition] = {}
        self._hot: OrderedDict[int, tuple[int, Runner]] = OrderedDict()
        self._cache_size = cache_size

    # -- loading ------------------------------------------------------------------------------------------

    def definition(self, uow: UnitOfWork, definition_id: int) -> LoadedDefinition:
        """Return a definition version's specs, deserialising them once per process."""
        loaded = self._definitions.get(definition_id)
        if loaded is None:
            row = uow.definitions.get(definition_id)
            if row is None:
                raise NotFound(f"definition {definition_id} does not exist")
            spec, subs = self.serializer.spec_from_json(row.spec_json)
            parsed = ParsedProcess(row.process_id, row.name, spec, subs)
            loaded = LoadedDefinition(row.id, row.process_id, row.name, parsed, ProcedureModel.from_dict(row.model))
            self._definitions[definition_id] = loaded
        return loaded

    def load(self, uow: UnitOfWork, instance_id: int, columns: dict[str, Any] | None = None) -> Loaded:
        """Read an instance; reuse the in-memory workflow if nobody changed it since (its state is read only then)."""
        if columns is None:
            row = uow.instances.row(instance_id)
            if row is None:
                raise NotFound(f"instance {instance_id} does not exist")
            columns = dict(row._mapping)
        definition = self.definition(uow, columns["definition_id"])
        hot = self._hot.pop(instance_id, None)
        if hot is not None and hot[0] == columns["version"]:
            runner = hot[1]
        else:
            # Read at the version the caller saw: under READ COMMITTED a later read may see a newer state.
            state = columns.get("state_json") or uow.instances.state_json(instance_id, columns["version"])
            if state is None:
                raise Conflict(f"instance {instance_id} was changed by someone else; reload and try again")
            workflow = self.serializer.state_from_json(state, definition.parsed.spec,
                                                       definition.parsed.subprocess_specs)
            runner = Runner(workflow)
        return Loaded(instance_id, columns["version"], definition, runner, columns["org_unit_id"],
                      columns["status"], (columns["history_length"], columns["history_head"]), columns)

    def peek(self, uow: UnitOfWork, instance_id: int) -> Runner:
        """Return the instance's workflow for reading, keeping it in memory for the next step."""
        loaded = self.load(uow, instance_id)
        self._keep(instance_id, loaded.version, loaded.runner)
        return loaded.runner

    def _keep(self, instance_id: int, version: int, runner: Runner) -> None:
        self._hot[instance_id] = (version, runner)
        while len(self._hot) > self._cache_size:
            self._hot.popitem(last=False)

    def forget(self, instance_id: int) -> None:
        """Drop a workflow from memory (its transaction failed, so memory is ahead of the database)."""
        self._hot.pop(instance_id, None)

    # -- sandbox ------------------------------------------------------------------------------------------

    def sandbox_helpers(self, uow: UnitOfWork, org_unit_id: str | None = None) -> dict[str, Any]:
        """Helpers bound to this operation's time, calendar, organisation and the instance's unit."""

        def person(person_id: str) -> dict[str, Any] | None:
            found = uow.orgs.get_person(person_id)
            if found is None:
                return None
            return {"id": found.id, "name": found.name, "membership": found.membership,
                    "org_unit": found.org_unit_id,
                    "birth_date": found.birth_date.isoformat() if found.birth_date else None,
                    **(found.attributes or {})}

        day = uow.now.date()
        return make_helpers(uow.now, uow.calendar, person, org_unit=org_unit_id,
                            holders=lambda role, unit: uow.orgs.holders(role, unit, day),
                            roles=lambda pid: [(r, u) for r, u, _ in uow.orgs.roles_of(pid, day)])

    def _attach(self, uow: UnitOfWork, loaded: Loaded) -> None:
        loaded.runner.workflow.script_engine = make_script_engine(self.sandbox_helpers(uow, loaded.org_unit_id))

    # -- operations ---------------------------------------------------------------------------------------

    def start(self, uow: UnitOfWork, definition: LoadedDefinition, *, org_unit_id: str, data: dict[str, Any],
              actor: str | None, title: str | None, business_key: str | None, schedule_id: int | None = None,
              period: str | None = None) -> int:
        """Create an instance at an org unit and run it to its first wait state."""
        unit = uow.orgs.get_unit(org_unit_id)
        if unit is None:
            raise NotFound(f"org unit {org_unit_id} does not exist")
        data = self._start_data(uow, definition.model, org_unit_id, apply_parameters(definition.model, data))
        engine = make_script_engine(self.sandbox_helpers(uow, org_unit_id))
        with running_at(RunContext(uow.now, uow.calendar)):
            runner, changes = Runner.start(definition.parsed, engine, dict(data))
        instance = uow.instances.add(ProcessInstance(
            definition_id=definition.id, process_id=definition.process_id, org_unit_id=org_unit_id,
            business_key=business_key, title=title or f"{definition.name} · {unit.name}", status="running",
            state_json="{}", serializer_version=SERIALIZER_VERSION, version=0, started_by=actor,
            started_at=uow.now, schedule_id=schedule_id, period=period,
        ))
        chain = instance_chain(instance.id)
        uow.record(chain, instance.id, NewEvent(
            "instance_started", uow.now, actor,
            payload={"process_id": definition.process_id, "definition_id": definition.id, "org_unit": org_unit_id,
                     "title": instance.title, "data": jsonable(data)}))
        loaded = Loaded(instance.id, 0, definition, runner, org_unit_id, "running")
        self._apply(uow, loaded, changes, actor)
        return instance.id

    def _start_data(self, uow: UnitOfWork, model: ProcedureModel, org_unit_id: str,
                    data: dict[str, Any]) -> dict[str, Any]:
        """Validate the start data against the start event's form and checks (other keys pass through)."""
        if not model.start_form and not model.start_checks:
            return data
        clean, failures = validate_form(model.start_form, data, {}, uow.orgs.person_exists, allow_unknown=True)
        merged = {**data, **clean}
        if not failures and model.start_checks:
            names = {**{f.id: EMPTY.get(f.type) for f in model.start_form}, **merged}
            failures = run_checks(model.start_checks, names,
                                  SandboxEnvironment(self.sandbox_helpers(uow, org_unit_id)))
        if failures:
            raise CheckFailed(failures)
        return merged

    def complete(self, uow: UnitOfWork, task_id: int, person_id: str, submitted: dict[str, Any]) -> Loaded:
        """Validate and check the form, complete the task and run to the next wait state (all or nothing)."""
        task = uow.tasks.step_context(task_id, person_id, uow.now.date())
        self._must_be_open(task, task_id)
        if not (task.assignee == person_id if task.assignee is not None else task.role_allowed):
            self._refuse(uow, task, person_id)
        columns = {k[len("instance_"):]: v for k, v in task._mapping.items() if k.startswith("instance_")}
        loaded = self.load(uow, task.instance_id, columns)
        loaded.open_before = task.open_count
        model = loaded.definition.model.user_tasks.get(task.task_spec)
        current = loaded.runner.task_data(task.spiff_task_id)
        fields = model.form if model else []
        clean, failures = validate_form(fields, submitted, current,
                                        lambda pid: uow.orgs.get_person(pid) is not None)
        if not failures and model and model.checks:
            # Every field of the form is a name the rules may use, even when left out of this submission.
            blank = {f.id: EMPTY.get(f.type) for f in fields}
            names = {**blank, **current, **clean}
            sandbox = SandboxEnvironment(self.sandbox_helpers(uow, loaded.org_unit_id))
            failures = run_checks(model.checks, names, sandbox)
        if failures:
            raise CheckFailed(failures)
        self._attach(uow, loaded)
        with running_at(RunContext(uow.now, uow.calendar)):
            changes = loaded.runner.complete(task.spiff_task_id, clean)
        uow.tasks.mark_completed(task.id, at=uow.now, by=person_id, assignee=task.assignee or person_id)
        uow.record(instance_chain(loaded.instance_id), loaded.instance_id, NewEvent(
            "task_completed", uow.now, person_id, task.spiff_task_id,
            {"task": task.id, "spec": task.task_spec, "name": task.name, "data": jsonable(clean)}))
        self._apply(uow, loaded, [c for c in changes if c.task_id != task.spiff_task_id], person_id)
        return loaded

    def fire_timers(self, uow: UnitOfWork, instance_id: int) -> int:
        """Fire the timers of one instance that are due at the unit of work's time; return how many fired."""
        loaded = self.load(uow, instance_id)
        if loaded.status != "running":
            return 0
        self._attach(uow, loaded)
        with running_at(RunContext(uow.now, uow.calendar)):
            changes = loaded.runner.fire_timers()
        self._apply(uow, loaded, changes, None)
        return sum(1 for c in changes if c.kind == "timer" and c.after == "COMPLETED")

    def cancel(self, uow: UnitOfWork, instance_id: int, actor: str | None, reason: str) -> None:
        """Cancel a running instance and its open tasks."""
        loaded = self.load(uow, instance_id)
        if loaded.status != "running":
            raise Conflict(f"instance {instance_id} is {loaded.status}, not running")
        with running_at(RunContext(uow.now, uow.calendar)):
            changes = loaded.runner.cancel()
        self._apply(uow, loaded, changes, actor, cancelled=(actor, reason))

    def claim(self, uow: UnitOfWork, task_id: int, person_id: str) -> None:
        """Take a task offered to one's role, so others see it is being handled."""
        task = self._open_task(uow, task_id)
        self.authorize(uow, task, person_id)
        if task.assignee == person_id and task.state == "claimed":
            raise Conflict(f"task {task_id} is already claimed by you")
        self._bump(uow, task.instance_id)
        uow.tasks.set(task.id, state="claimed", assignee=person_id, claimed_at=uow.now)
        uow.record(instance_chain(task.instance_id), task.instance_id,
                   NewEvent("task_claimed", uow.now, person_id, task.spiff_task_id, {"task": task.id}))

    def unclaim(self, uow: UnitOfWork, task_id: int, person_id: str) -> None:
        """Give a claimed task back to its role."""
        task = self._open_task(uow, task_id)
        if task.state != "claimed" or task.assignee != person_id:
            raise NotAllowed(f"task {task_id} is not claimed by {person_id}")
        model = self.definition(uow, uow.instances.row(task.instance_id).definition_id).model.user_tasks.get(
            task.task_spec)
        if model is not None and model.assignee:
            raise NotAllowed(f"task {task_id} is assigned to {person_id} by the procedure and cannot be given back")
        self._bump(uow, task.instance_id)
        uow.tasks.set(task.id, state="ready", assignee=None, claimed_at=None)
        uow.record(instance_chain(task.instance_id), task.instance_id,
                   NewEvent("task_unclaimed", uow.now, person_id, task.spiff_task_id, {"task": task.id}))

    def open(self, uow: UnitOfWork, task_id: int, person_id: str) -> None:
        """Record that someone started working on a task (the start of touch time)."""
        task = self._open_task(uow, task_id)
        self.authorize(uow, task, person_id)
        if task.opened_at is not None:
            return
        uow.tasks.set(task.id, opened_at=uow.now)
        uow.record(instance_chain(task.instance_id), task.instance_id,
                   NewEvent("task_opened", uow.now, person_id, task.spiff_task_id, {"task": task.id}))

    # -- rights -------------------------------------------------------------------------------------------

    def may_do(self, uow: UnitOfWork, task: Any, person_id: str) -> bool:
        """Tell whether the person may work on the task: theirs, or offered to a role they hold there."""
        if task.assignee is not None:
            return bool(task.assignee == person_id)
        for role, unit_id, path in uow.orgs.roles_of(person_id, uow.now.date()):
            if role != task.role:
                continue
            if unit_id == task.org_unit_id:
                return True
            if task.role_scope == "ancestor" and task.org_path.startswith(path):
                return True
        return False

    def authorize(self, uow: UnitOfWork, task: Any, person_id: str) -> None:
        """Refuse a person who may not work on the task."""
        if not self.may_do(uow, task, person_id):
            self._refuse(uow, task, person_id)

    def _refuse(self, uow: UnitOfWork, task: Any, person_id: str) -> None:
        if not uow.orgs.person_exists(person_id):
            raise NotFound(f"person {person_id} does not exist")
        holder = f"assigned to {task.assignee}" if task.assignee else f"offered to role {task.role}"
        raise NotAllowed(f"{person_id} may not work on task {task.id} ({holder} at {task.org_unit_id})")

    # -- internals ----------------------------------------------------------------------------------------

    def _open_task(self, uow: UnitOfWork, task_id: int) -> Any:
        task = uow.tasks.get(task_id)
        self._must_be_open(task, task_id)
        return task

    @staticmethod
    def _must_be_open(task: Any, task_id: int) -> None:
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        if task.state not in OPEN:
            by = f" by {task.completed_by}" if task.completed_by else ""
            raise Conflict(f"task {task_id} is already {task.state}{by}")

    def _bump(self, uow: UnitOfWork, instance_id: int) -> None:
        """Move the instance's version so a concurrent operation on it conflicts instead of interleaving."""
        row = uow.instances.row(instance_id)
        if not uow.instances.update(instance_id, row.version):
            raise Conflict(f"instance {instance_id} was changed by someone else; reload and try again")
        hot = self._hot.get(instance_id)
        if hot is not None and hot[0] == row.version:
            self._hot[instance_id] = (row.version + 1, hot[1])

    def _apply(self, uow: UnitOfWork, loaded: Loaded, changes: list[TaskChange], actor: str | None,
               cancelled: tuple[str | None, str] | None = None) -> None:
        """Project changes onto inbox rows and history, prune, save the state with the version check."""
        projection = Projection(uow, instance_id=loaded.instance_id, org_unit_id=loaded.org_unit_id,
                                model=loaded.definition.model, task_data=loaded.runner.task_data,
                                sandbox=lambda: SandboxEnvironment(self.sandbox_helpers(uow, loaded.org_unit_id)))
        loaded.new_tasks = projection.apply(changes, actor)
        status, ended_at = loaded.status, (loaded.row or {}).get("ended_at")
        if cancelled is not None:
            status, ended_at = "cancelled", uow.now
            projection.record(NewEvent("instance_cancelled", uow.now, cancelled[0], payload={"reason": cancelled[1]}))
        elif loaded.runner.completed:
            status, ended_at = "completed", uow.now
            projection.record(NewEvent("instance_completed", uow.now, actor,
                                       payload={"data": jsonable(loaded.runner.data)}))
        if self.prune:
            loaded.runner.prune()
        # The step's events and the chain's new head go out with the same UPDATE as the state.
        length, head = uow.take_instance_history(loaded.instance_id, loaded.history_head)
        values: dict[str, Any] = {
            "state_json": self.serializer.state_to_json(loaded.runner.workflow),
            "status": status,
            "next_timer_due": None if status != "running" else loaded.runner.next_due(),
            "ended_at": ended_at,
            "history_length": length,
            "history_head": head,
        }
        if not uow.instances.save_step(loaded.instance_id, loaded.version, **values):
            raise Conflict(f"instance {loaded.instance_id} was changed by someone else; reload and try again")
        loaded.saved = values
        loaded.history_head = (length, head)
        loaded.version += 1
        loaded.status = status
        self._keep(loaded.instance_id, loaded.version, loaded.runner)


def apply_parameters(model: ProcedureModel, data: dict[str, Any]) -> dict[str, Any]:
    """Fill in the procedure's parameters (rule version, local practice) from their defaults; refuse bad values."""
    merged = dict(data)
    for param in model.params.values():
        value = merged.setdefault(param.name, param.default)
        if param.values and str(value) not in param.values:
            raise InvalidInput(f"parameter {param.name} must be one of {', '.join(param.values)}, not '{value}'")
    return merged


def parse_json_object(text: str | None) -> dict[str, Any]:
    """Parse a JSON object typed by a user, with a clear error."""
    import json

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as bad:
        raise InvalidInput(f"data is not valid JSON: {bad.msg} at line {bad.lineno} column {bad.colno}") from None
    if not isinstance(value, dict):
        raise InvalidInput("data must be a JSON object, e.g. {\"agenda\": \"...\"}")
    return value
