"""Tests for engine.sandbox: policy, guards, limits and the SpiffWorkflow integration."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from engine import sandbox
from engine.errors import SandboxError
from engine.sandbox import Limits, SandboxEnvironment, check_code, make_script_engine

HELPERS = {"double": lambda value: 2 * value}
FAST = Limits(seconds=0.3)


@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment(HELPERS)


def run_script(env: SandboxEnvironment, script: str, **data: Any) -> dict[str, Any]:
    env.execute(script, data)
    return data


def refused(env: SandboxEnvironment, source: str, mode: str) -> str:
    """Run source and return the SandboxError message; fail if it ran."""
    with pytest.raises(SandboxError) as caught:
        if mode == "eval":
            env.eval_expression(source, {"a": 1, "s": "text"})
        else:
            env.execute(source, {"a": 1, "s": "text"})
    return caught.value.message


# -- compile-time policy ------------------------------------------------------------------------------------


def test_limits_defaults_and_frozen() -> None:
    limits = Limits()
    assert (limits.seconds, limits.max_sequence, limits.max_source) == (1.0, 100_000, 20_000)
    with pytest.raises(AttributeError):
        limits.seconds = 5  # type: ignore[misc]


@pytest.mark.parametrize(("source", "mode"), [
    ("len(introducers) == 2", "eval"),
    ("x = [i * 2 for i in range(10)]\nfor i in x:\n    total = i", "exec"),
    ("def f(v):\n    return v + 1\ny = f(1)", "exec"),
    ("  a > 1\n", "eval"),  # indentation from the XML is tolerated like Python's eval()
])
def test_check_code_accepts_ordinary_code(source: str, mode: str) -> None:
    assert check_code(source, mode=mode) == []


@pytest.mark.parametrize(("source", "mode", "reason"), [
    ("import os", "exec", "import statements are not allowed"),
    ("from os import path", "exec", "import statements are not allowed"),
    ("while True:\n    pass", "exec", "while loops are not allowed in procedure code"),
    ("class A:\n    pass", "exec", "class definitions are not allowed"),
    ("try:\n    x = 1\nfinally:\n    x = 2", "exec", "try/finally is not allowed"),
    ("try:\n    x = 1\nexcept:\n    x = 2", "exec", "bare except is not allowed"),
    ("with a:\n    pass", "exec", "with statements are not allowed"),
    ("().__class__.__base__.__subclasses__()", "eval", '"__class__" is an invalid attribute name'),
    ("[c for c in ().__class__.__mro__]", "eval", '"__mro__" is an invalid attribute name'),
    ("__import__('os')", "eval", '"__import__" is an invalid variable name'),
    ("(x for x in []).gi_frame", "eval", '"gi_frame" is a restricted name'),
    ("(lambda: 0).__globals__", "eval", '"__globals__" is an invalid attribute name'),
    ("(lambda g=().__class__: g)()", "eval", '"__class__" is an invalid attribute name'),
    ("eval('1')", "eval", "Eval calls are not allowed"),
    ("exec('x = 1')", "exec", "Exec calls are not allowed"),
    ("1 +", "eval", "SyntaxError"),
    ("return 1", "exec", "'return' outside function"),
])
def test_check_code_refuses(source: str, mode: str, reason: str) -> None:
    reasons = check_code(source, mode=mode)
    assert reasons and any(reason in r for r in reasons), reasons


def test_check_code_refuses_long_source_and_bad_mode() -> None:
    assert "longer than the sandbox limit" in check_code("1 + " * 6000 + "1", mode="eval")[0]
    assert check_code("1 + 1", mode="eval", limits=Limits(max_source=3))
    with pytest.raises(ValueError):
        check_code("1", mode="single")


def test_compile_is_cached(env: SandboxEnvironment) -> None:
    env.eval_expression("a + 41", {"a": 1})
    before = sandbox._compile.cache_info().hits
    assert env.eval_expression("a + 41", {"a": 1}) == 42
    assert sandbox._compile.cache_info().hits == before + 1


def test_refused_code_raises_at_run_time(env: SandboxEnvironment) -> None:
    assert "import statements are not allowed" in refused(env, "import os", "exec")
    assert refused(env, "while 1:\n    pass", "exec").startswith("code refused:")


# -- run-time escapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "mode"), [
    ("().__class__.__base__.__subclasses__()", "eval"),
    ("getattr((), '__class__')", "eval"),
    ("[c for c in ().__class__.__mro__]", "eval"),
    ("__import__('os')", "eval"),
    ("import os", "exec"),
    ("from os import path", "exec"),
    ("open('/etc/passwd')", "eval"),
    ("eval('1')", "eval"),
    ("exec('x=1')", "exec"),
    ("compile('1', 'f', 'eval')", "eval"),
    ("globals()", "eval"),
    ("vars()", "eval"),
    ("locals()", "eval"),
    ("dir()", "eval"),
    ("type(1).__subclasses__", "eval"),
    ("type(1)", "eval"),
    ("object", "eval"),
    ("'{0.__class__}'.format(1)", "eval"),
    ("'{0.__class__}'.format_map({})", "eval"),
    ("str.format('{0.__class__}', 1)", "eval"),
    ("string.Formatter().format('{0.__class__}', 1)", "eval"),
    ("(x for x in []).gi_frame", "eval"),
    ("(x for x in []).gi_code", "eval"),
    ("(lambda: 0).__code__", "eval"),
    ("random.random()", "eval"),
    ("math.factorial(10)", "eval"),
    ("setattr(a, 'b', 1)", "eval"),
    ("id(a)", "eval"),
    ("raise SystemExit(1)", "exec"),
    ("try:\n    x = 1 / 0\nexcept BaseException:\n    pass", "exec"),
    ("s.x = 1", "exec"),
    ("breakpoint()", "eval"),
])
def test_escapes_are_blocked(env: SandboxEnvironment, source: str, mode: str) -> None:
    refused(env, source, mode)


def test_format_attribute_access_names_the_reason(env: SandboxEnvironment) -> None:
    assert "format" in refused(env, "'{0.__class__}'.format(1)", "eval")


def test_guards_cannot_be_replaced_by_task_data(env: SandboxEnvironment) -> None:
    names = {"a": [1, 2], "_getiter_": None, "_getattr_": "x", "__builtins__": {}}
    assert env.eval_expression("[v * 2 for v in a] + [len(a)]", names) == [2, 4, 2]
    data = run_script(env, "b = a.copy()", **names)
    assert data["b"] == [1, 2] and data["_getattr_"] == "x" and data["__builtins__"] == {}


# -- memory and CPU bombs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    "'a' * 10**10",
    "10**10 * 'a'",
    "[0] * 10**9",
    "(0,) * 10**9",
    "'x'.encode() * 10**9",
    "10 ** 10 ** 10",
    "pow(10, 10**10)",
    "pow(3, 10**100, 10**5000)",
    "(10**30000) * (10**30000)",
    "1 << 10**10",
    "list(range(10**12))",
    "range(10**6)",
    "'x'.ljust(10**10)",
    "str.rjust('x', 10**10)",
    "'x'.zfill(10**10)",
    "('\\t' * 1000).expandtabs(10**6)",
    "('x' * 1000).replace('', 'y' * 1000)",
    "('x' * 100000).join(['a'] * 100000)",
    "('x' * 10).translate({120: 'y' * 100000})",
    "'%*d' % (10**10, 1)",
    "'%10000000000d' % 1",
    "f'{1:>10000000000}'",
    "f'{1:>{10**10}}'",
    "(1).to_bytes(10**10, 'big')",
    "sum([[0] * 1000] * 100000, [])",
    "round(5, -10**7)",
    "'x' * 50000 + 'y' * 50001",
])
def test_memory_bombs_are_refused_quickly(env: SandboxEnvironment, source: str) -> None:
    started = time.monotonic()
    message = refused(env, source, "eval")
    assert "exceeds the sandbox limit" in message or "sum() only adds numbers" in message
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("script", [
    "a = 'x'\na *= 10**9",
    "a = 2\na **= 10**10",
    "a = 1\na <<= 10**10",
    "x = 'x' * 100000\nfor i in range(100):\n    x = x + x",
    "x = ['y' * 100000] * 100",  # tiny here, 10 MB as JSON: refused when written back
])
def test_growing_scripts_are_refused(env: SandboxEnvironment, script: str) -> None:
    assert "exceeds the sandbox limit" in refused(env, script, "exec")


def test_operators_still_work(env: SandboxEnvironment) -> None:
    names = {"n": 3, "items": [1, 2]}
    assert env.eval_expression("2 ** 10 + 3 * n + (1 << 4) + 7 % 4", names) == 1024 + 9 + 16 + 3
    assert env.eval_expression("'ab' * n + '%05.1f' % 2.5 + f'{n:>4}|{n!r}'", names) == "ababab002.5   3|3"
    assert env.eval_expression("items * 2 + [0] and ', '.join(str(i) for i in items)", names) == "1, 2"
    data = run_script(env, "a = [1]\na += [2]\nb = 3\nb *= 4\nc = 2\nc **= 3\nd = 'x'.ljust(3, '.')", **names)
    assert (data["a"], data["b"], data["c"], data["d"]) == ([1, 2], 12, 8, "x..")


def test_zip_products_count_against_the_loop_budget() -> None:
    env = SandboxEnvironment(limits=Limits(max_iterations=10_000, seconds=5))
    assert env.eval_expression("len(list(zip(range(100), range(100))))", {}) == 100
    assert "loop limit" in refused(env, "len(list(zip(*[range(1000)] * 100)))", "eval")


def test_loop_budget() -> None:
    env = SandboxEnvironment(limits=Limits(max_iterations=1000, seconds=5))
    assert env.eval_expression("sum(1 for _ in range(1000))", {}) == 1000
    assert "loop limit of 1,000 iterations" in refused(env, "sum(1 for _ in range(1001))", "eval")
    # The budget is an _Abort (a BaseException): `except Exception` cannot swallow it.
    script = "try:\n    for i in range(5000):\n        x = i\nexcept Exception:\n    x = -1"
    assert "loop limit" in refused(env, script, "exec")


def test_time_limit_stops_nested_comprehension() -> None:
    env = SandboxEnvironment(limits=Limits(max_iterations=10**12))
    started = time.monotonic()
    message = refused(env, "[x * y for x in range(100000) for y in range(100000)]", "eval")
    elapsed = time.monotonic() - started
    assert "time limit of 1 s" in message
    assert 0.9 < elapsed < 2.0


@pytest.mark.parametrize(("source", "mode"), [
    ("(lambda f: f(f, 40))(lambda f, n: 0 if n == 0 else f(f, n - 1) + f(f, n - 1))", "eval"),
    ("sum(x * y for x in range(100000) for y in range(100000))", "eval"),
    ("sorted(range(100000), key=lambda v: sum(1 for _ in range(100000)))", "eval"),
    ("def f(n):\n    return 0 if n == 0 else f(n - 1) + f(n - 1)\ntry:\n    f(40)\nexcept Exception:\n    f(40)",
     "exec"),
])
def test_time_limit_stops_busy_code(source: str, mode: str) -> None:
    env = SandboxEnvironment(limits=Limits(seconds=0.3, max_iterations=10**12))
    started = time.monotonic()
    assert "time limit of 0.3 s" in refused(env, source, mode)
    assert time.monotonic() - started < 1.0


def test_time_limit_works_in_other_threads_and_restores_the_tracer() -> None:
    env = SandboxEnvironment(limits=FAST)
    outcome: list[str] = []

    def worker() -> None:
        try:
            env.eval_expression("(lambda f: f(f, 40))(lambda f, n: n and f(f, n - 1) + f(f, n - 1))", {})
        except SandboxError as error:
            outcome.append(error.message)
        outcome.append(repr(sys.gettrace()))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert "time limit" in outcome[0] and outcome[1] == "None"

    def outer(frame: Any, event: str, arg: Any) -> None:
        return None

    sys.settrace(outer)
    try:
        assert env.eval_expression("1 + 1", {}) == 2
        assert sys.gettrace() is outer
    finally:
        sys.settrace(None)


# -- errors and data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "mode", "message"), [
    ("1 / 0", "eval", "ZeroDivisionError: division by zero"),
    ("missing + 1", "eval", "NameError: name 'missing' is not defined"),
    ("len(5)", "eval", "TypeError: object of type 'int' has no len()"),
    ("x = 1\ny = 2\nz = x / 0", "exec", "ZeroDivisionError: division by zero (line 3)"),
    ("def f():\n    return {}['k']\n\nf()", "exec", "KeyError: 'k' (line 2)"),
    ("raise ValueError('bad\\nvalue')", "exec", "ValueError: bad value (line 1)"),
])
def test_runtime_errors_become_one_line_sandbox_errors(env: SandboxEnvironment, source: str, mode: str,
                                                        message: str) -> None:
    assert refused(env, source, mode) == message


def test_scripts_may_catch_ordinary_errors(env: SandboxEnvironment) -> None:
    data = run_script(env, "try:\n    x = 1 / 0\nexcept ZeroDivisionError:\n    x = 0\ntry:\n    y = 'a' * 10**9\n"
                           "except Exception:\n    y = 'too big'")
    assert data == {"x": 0, "y": "too big"}


def test_eval_expression_with_builtins_and_helpers(env: SandboxEnvironment) -> None:
    names = {"introducers": ["p1", "p2"], "amounts": [3, -1, 2], "info": {"k": 1}}
    rules = {
        "len(introducers) == 2": True,
        "double(len(introducers))": 4,
        "(min(amounts), max(amounts), sum(amounts), abs(amounts[1]))": (-1, 3, 4, 1),
        "any(a < 0 for a in amounts) and not all(a < 0 for a in amounts)": True,
        "sorted(amounts) == list(reversed(sorted(amounts)))[::-1]": True,
        "round(2.567, 2) + int('3') + float('1.5')": 2.57 + 3 + 1.5,
        "str(1) + str(bool(0))": "1False",
        "dict(info) == {'k': 1} and set(amounts) == {3, -1, 2} and tuple(amounts)[0] == 3": True,
        "[(i, v) for i, v in enumerate(amounts)][1]": (1, -1),
        "list(zip(introducers, amounts))[0]": ("p1", 3),
        "list(range(2, 5)) + [isinstance(info, dict), None, True, False]": [2, 3, 4, True, None, True, False],
        "math.floor(2.7) + math.sqrt(4)": 4.0,
        "info.get('k') + info['k']": 2,
    }
    for rule, expected in rules.items():
        assert env.eval_expression(rule, names) == expected, rule


def test_evaluate_does_not_change_the_context(env: SandboxEnvironment) -> None:
    context = {"a": 1}
    assert env.evaluate("a + 1", context) == 2
    assert context == {"a": 1}


def test_execute_writes_back_data_only(env: SandboxEnvironment) -> None:
    data = run_script(env, "x = a + 1\ny = double(a)\nf = lambda: 1\nm = math\ng = (i for i in [])\n"
                           "def h():\n    return 1\nprint('ignored')\ndel b", a=1, b=2)
    assert data == {"a": 1, "x": 2, "y": 2}


def test_execute_is_all_or_nothing(env: SandboxEnvironment) -> None:
    data = {"a": 1}
    with pytest.raises(SandboxError):
        env.execute("a = 5\nb = 1 / 0", data)
    assert data == {"a": 1}


def test_execute_refuses_code_hidden_in_data(env: SandboxEnvironment) -> None:
    assert "cannot be stored in task data" in refused(env, "x = {'f': lambda: 1}", "exec")


def test_execute_refuses_data_overwriting_helpers(env: SandboxEnvironment) -> None:
    with pytest.raises(SandboxError, match="double"):
        env.execute("x = 1", {"double": 3})


# -- SpiffWorkflow integration ------------------------------------------------------------------------------

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="proc" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="script" name="Compute" scriptFormat="python">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="f_small">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="end_big"><bpmn:incoming>f_big</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f_small</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script" />
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="gw" />
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="end_small" />
  </bpmn:process>
</bpmn:definitions>
"""


def start_workflow(script: str, condition: str = "x &gt; 1", **data: Any) -> BpmnWorkflow:
    parser = CamundaParser()
    parser.add_bpmn_str(BPMN.format(script=script, condition=condition).encode())
    workflow = BpmnWorkflow(parser.get_spec("proc"), script_engine=make_script_engine(HELPERS))
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def completed(workflow: BpmnWorkflow) -> set[str]:
    return {task.task_spec.name for task in workflow.get_tasks(state=TaskState.COMPLETED)}


@pytest.mark.parametrize(("a", "end", "other"), [(1, "end_big", "end_small"), (0, "end_small", "end_big")])
def test_spiff_workflow_runs_script_and_gateway(a: int, end: str, other: str) -> None:
    workflow = start_workflow("x = a + 1\ny = double(a)", a=a)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert end in completed(workflow) and other not in completed(workflow)
    data = workflow.get_tasks(spec_name="script")[0].data
    assert data == {"a": a, "x": a + 1, "y": 2 * a}  # no helpers, builtins or guards leaked


@pytest.mark.parametrize(("script", "condition", "reason"), [
    ("import os", "x &gt; 1", "import statements are not allowed"),
    ("x = ().__class__", "x &gt; 1", '"__class__" is an invalid attribute name'),
    ("x = 1 / 0", "x &gt; 1", "ZeroDivisionError: division by zero (line 1)"),
    ("x = 1", "().__class__", '"__class__" is an invalid attribute name'),
    ("x = 1", "x / 0 &gt; 1", "ZeroDivisionError"),
])
def test_spiff_workflow_reports_sandbox_errors(script: str, condition: str, reason: str) -> None:
    workflow = start_workflow(script, condition, a=1)
    with pytest.raises(Exception) as caught:  # noqa: B017 - Spiff wraps ours in WorkflowTaskException
        workflow.do_engine_steps()
    error = caught.value
    assert type(error).__name__ == "WorkflowTaskException"
    assert error.error_type == "SandboxError"
    assert isinstance(error.__context__, SandboxError) and reason in error.__context__.message
    if script != "x = 1":  # script errors carry our message; Spiff words expression errors itself
        assert reason in str(error)
    assert not workflow.is_completed()
