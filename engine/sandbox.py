"""Sandbox for the Python in procedures: scripts, gateway conditions, timer expressions and check rules."""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
import string
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from RestrictedPython import (
    compile_restricted_eval,
    compile_restricted_exec,
    limited_builtins,
    safe_builtins,
    utility_builtins,
)
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations
from SpiffWorkflow.bpmn.script_engine import (  # type: ignore[import-untyped]
    PythonScriptEngine,
    TaskDataEnvironment,
)

from engine.errors import SandboxError

# Every sandboxed frame carries this file name: the tracer uses it to tell procedure code from host code.
FILENAME = "<procedure>"


@dataclass(frozen=True)
class Limits:
    """Bounds on sandboxed code."""

    seconds: float = 1.0  # wall time per evaluate/execute
    max_sequence: int = 100_000  # largest list/str/bytes/range one operation (*, +, range(), ljust ...) may build
    max_source: int = 20_000  # characters of source
    max_iterations: int = 1_000_000  # for-loop and comprehension steps per evaluate/execute
    max_int_bits: int = 100_000  # largest int one *, ** or << may build
    max_data: int = 5_000_000  # items plus characters of the task data a script leaves (shared items count each time)


DEFAULT_LIMITS = Limits()


class _Abort(BaseException):
    """Stops sandboxed code; not an Exception, so `except Exception` in a script cannot swallow it."""


# Constructs procedures never need and that would let code outlive its limits: the tracer stops a script by
# raising once, so anything able to catch or outlast that exception (bare except, finally, with) is refused.
_REFUSED: dict[type[ast.AST], str] = {
    ast.While: "while loops are not allowed in procedure code (loop over a bounded range instead)",
    ast.Import: "import statements are not allowed in procedure code",
    ast.ImportFrom: "import statements are not allowed in procedure code",
    ast.ClassDef: "class definitions are not allowed in procedure code",
    ast.With: "with statements are not allowed in procedure code",
}
_CHECKED_OPS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus our refusals and size-checked operators."""

    def visit(self, node: ast.AST) -> Any:
        reason = _REFUSED.get(type(node))
        if isinstance(node, ast.Try) and node.finalbody:
            reason = "try/finally is not allowed in procedure code"
        elif isinstance(node, ast.ExceptHandler) and node.type is None:
            reason = "a bare except is not allowed in procedure code (use except Exception)"
        if reason:
            self.error(node, reason)
        return super().visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        symbol = _CHECKED_OPS.get(type(node.op))
        if symbol is None:
            return node
        # The size check must run before Python computes the result, hence a call instead of the operator.
        call = ast.Call(ast.Name("_binop_", ast.Load()), [ast.Constant(symbol), node.left, node.right], [])
        copy_locations(call, node)
        return call

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        # f"{x:>999999999}" would build a huge string in one C call; route format specs through a check.
        call = ast.Call(ast.Name("_format_", ast.Load()),
                        [node.value, node.format_spec, ast.Constant(node.conversion)], [])
        copy_locations(call, node)
        value = ast.FormattedValue(call, -1, None)
        copy_locations(value, node)
        return value


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: str) -> tuple[types.CodeType | None, tuple[str, ...]]:
    """Compile under the policy once per (source, mode); rules run on every step and compiling is slow."""
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=FILENAME, policy=_Policy)
    except (SyntaxError, ValueError, RecursionError) as error:  # e.g. 'return' outside function, deep nesting
        return None, (f"{type(error).__name__}: {error}",)
    # RestrictedPython quotes the whole statement on syntax errors; keep lint messages readable.
    return (None, tuple(e[:300] for e in result.errors)) if result.errors else (result.code, ())


def _compiled(source: str, mode: str, limits: Limits) -> tuple[types.CodeType | None, tuple[str, ...]]:
    """Validate the arguments, then compile through the cache."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        return None, ("code must be text",)
    if len(source) > limits.max_source:
        return None, (f"code is longer than the sandbox limit of {limits.max_source:,} characters",)
    # Diagram expressions often carry the XML's indentation, which Python's eval() tolerates but ast does not.
    return _compile(source.strip() if mode == "eval" else source, mode)


def check_code(source: str, *, mode: str, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Compile source under the sandbox policy and return the reasons it is refused (empty = fine)."""
    return list(_compiled(source, mode, limits)[1])


def _namespace(module: types.ModuleType, unsafe: set[str]) -> types.SimpleNamespace:
    """A read-only view of a module's public names minus the unsafe ones."""
    return types.SimpleNamespace(**{k: v for k, v in vars(module).items() if not k.startswith("_") and k not in unsafe})


# Dropped: class building, attribute writers, id() (leaks addresses), the host's shared RNG (random.seed would
# reach other code), and the BaseException family, which could catch _Abort or kill the worker (SystemExit).
_DROPPED = {"__build_class__", "setattr", "delattr", "_getattr_", "id", "random", "whrandom", "DateTime",
            "BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"}
_STATIC_BUILTINS: dict[str, Any] = {
    name: value for table in (safe_builtins, limited_builtins, utility_builtins)
    for name, value in table.items() if name not in _DROPPED
}
_STATIC_BUILTINS.update(
    # These run a single C call for as long as they like (math.factorial(10**7)); no tracer can stop them.
    math=_namespace(math, {"factorial", "comb", "perm", "prod", "lcm"}),
    string=_namespace(string, {"Formatter"}),  # Formatter reaches attributes like str.format does
    len=len, min=min, max=max, any=any, all=all, sorted=sorted, reversed=reversed, abs=abs, int=int,
    float=float, str=str, bool=bool, list=list, dict=dict, set=set, frozenset=frozenset, tuple=tuple,
    enumerate=enumerate, isinstance=isinstance,  # None/True/False come from safe_builtins
)
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_TEXT = (str, bytes, bytearray)
_GROWING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate", "strftime",
                      "to_bytes"})
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod,
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_STRFTIME = re.compile(r"%[-_0^#]*(\d+)")
_CONVERSIONS: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}


class _NullPrint:
    """Stands in for RestrictedPython's print collector: output is discarded, so `printed` cannot grow."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def __call__(self) -> str:
        return ""

    def _call_print(self, *objects: Any, **options: Any) -> None:
        pass


class _Guards:
    """The run-time guards of one evaluate/execute: size checks, iteration budget and deadline."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.iterations = limits.max_iterations
        self.deadline = time.monotonic() + limits.seconds

    def names(self) -> dict[str, Any]:
        """The guard names RestrictedPython's compiled code calls, plus the builtins bound to our limits."""
        return {
            "__builtins__": {**_STATIC_BUILTINS, "range": self.range, "pow": self.pow, "round": self.round,
                             "sum": self.sum, "zip": self.zip},
            "_getattr_": self.getattr, "_getitem_": operator.getitem, "_getiter_": self.getiter,
            "_write_": full_write_guard, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence, "_inplacevar_": self.inplacevar,
            "_binop_": self.binop, "_format_": self.format, "_print_": _NullPrint,
            "_apply_": lambda func, *args, **kwargs: func(*args, **kwargs),
        }

    def run(self, code: types.CodeType, scope: dict[str, Any]) -> Any:
        """Run code with the tracer installed for this thread only, restoring whatever tracer was there."""
        previous = sys.gettrace()
        sys.settrace(self.trace)
        try:
            return eval(code, scope)  # an exec-mode code object runs as a statement list and gives None
        finally:
            sys.settrace(previous)

    def trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        # Host frames (helpers, guards) are neither traced line by line nor interrupted half-way.
        if frame.f_code.co_filename != FILENAME:
            return None
        if time.monotonic() > self.deadline:
            raise _Abort(f"the time limit of {self.limits.seconds:g} s was exceeded")
        return self.trace

    # -- sizes ---------------------------------------------------------------------------------------------

    def check_length(self, length: int) -> None:
        if length > self.limits.max_sequence:
            raise SandboxError(f"a sequence this long exceeds the sandbox limit of {self.limits.max_sequence:,} items")

    def check_bits(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            raise SandboxError(f"a number this large exceeds the sandbox limit of {self.limits.max_int_bits:,} bits")

    def check_width(self, width: Any) -> None:
        if isinstance(width, str):
            width = int(width) if len(width) < 12 else sys.maxsize
        if isinstance(width, int) and width > self.limits.max_sequence:
            raise SandboxError(f"a format width exceeds the sandbox limit of {self.limits.max_sequence:,}")

    def check(self, op: str, a: Any, b: Any) -> None:
        """Refuse an operation whose result would be too large, before Python builds it."""
        if op == "*" and isinstance(a, int) and isinstance(b, int):
            self.check_bits(a.bit_length() + b.bit_length())
        elif op == "*" and isinstance(b, int) and isinstance(a, _SEQUENCES):
            self.check_length(len(a) * b)
        elif op == "*" and isinstance(a, int) and isinstance(b, _SEQUENCES):
            self.check_length(len(b) * a)
        elif op == "+" and isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            self.check_length(len(a) + len(b))
        elif op == "**" and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
            self.check_bits(b * a.bit_length())
        elif op == "<<" and isinstance(a, int) and isinstance(b, int) and a and b > 0:
            self.check_bits(a.bit_length() + b)
        elif op == "%" and isinstance(a, _TEXT):
            text = a if isinstance(a, str) else a.decode("latin-1")
            specs = _PRINTF.findall(text)
            for part in (p for spec in specs for p in spec if p and p != "*"):
                self.check_width(part)
            if any("*" in spec for spec in specs):  # '%*d' takes its width from the arguments
                for value in b if isinstance(b, tuple) else (b,):
                    self.check_width(value)

    def binop(self, op: str, a: Any, b: Any) -> Any:
        self.check(op, a, b)
        return _OPERATORS[op](a, b)

    def inplacevar(self, op: str, a: Any, b: Any) -> Any:
        self.check(op[:-1], a, b)
        return _OPERATORS[op](a, b)

    def format(self, value: Any, spec: str, conversion: int) -> str:
        if conversion in _CONVERSIONS:
            value = _CONVERSIONS[conversion](value)
        for number in re.findall(r"\d+", spec):
            self.check_width(number)
        return format(value, spec)

    def range(self, *args: int) -> range:
        result = range(*args)
        try:
            self.check_length(len(result))
        except OverflowError:  # longer than sys.maxsize
            self.check_length(sys.maxsize)
        return result

    def pow(self, base: Any, exp: Any, mod: Any = None) -> Any:
        if mod is None:
            return self.binop("**", base, exp)
        if isinstance(exp, int) and isinstance(mod, int):  # modular pow costs exponent bits x modulus bits^2
            self.check_bits(max(exp.bit_length(), 1) * max(mod.bit_length(), 1))
        return pow(base, exp, mod)

    def round(self, number: Any, ndigits: Any = None) -> Any:
        if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0:
            self.check_bits(-ndigits * 4)  # int rounding computes 10 ** -ndigits in one C call
        return round(number, ndigits)

    def sum(self, iterable: Iterable[Any], /, start: Any = 0) -> Any:
        if isinstance(start, _SEQUENCES):  # adding lists in C is quadratic and cannot be interrupted
            raise SandboxError("sum() only adds numbers in procedure code")
        return sum(iterable, start)

    def zip(self, *iterables: Iterable[Any], strict: bool = False) -> Iterator[tuple[Any, ...]]:
        # list(zip(*[range(10**5)] * 10**5)) builds 10**10 items in one C call; counting every item pulled keeps
        # such products inside the iteration budget.
        return zip(*(self.getiter(i) for i in iterables), strict=strict)

    # -- iteration and attributes ----------------------------------------------------------------------------

    def getiter(self, ob: Any) -> Iterator[Any]:
        return self._counted(iter(ob))

    def _counted(self, iterator: Iterator[Any]) -> Iterator[Any]:
        for item in iterator:
            self.iterations -= 1
            if self.iterations < 0:
                raise _Abort(f"the loop limit of {self.limits.max_iterations:,} iterations was exceeded")
            yield item

    def getattr(self, obj: Any, name: str) -> Any:
        """safer_getattr (no '_' names, no str.format, no frames), with growing text methods size-checked."""
        value = safer_getattr_raise(obj, name)
        if name not in _GROWING:
            return value
        if isinstance(obj, type):  # str.ljust(s, n): check through the instance path
            return lambda self_, *args, **kwargs: self.getattr(self_, name)(*args, **kwargs)
        if name == "strftime":
            return lambda fmt, *args: self._strftime(value, fmt, *args)
        if name == "to_bytes" and isinstance(obj, int):  # (1).to_bytes(10**9) allocates in one C call
            return functools.partial(self._to_bytes, value)
        return self._text_method(obj, name, value) if isinstance(obj, _TEXT) else value

    def _to_bytes(self, method: Callable[..., bytes], length: int = 1, *args: Any, **kwargs: Any) -> bytes:
        self.check_width(length)
        return method(length, *args, **kwargs)

    def _strftime(self, method: Callable[..., str], fmt: Any, *args: Any) -> str:
        for width in _STRFTIME.findall(fmt) if isinstance(fmt, str) else ():
            self.check_width(width)  # glibc pads '%999999999Y' in one C call
        return method(fmt, *args)

    def _text_method(self, text: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a str/bytes method whose result can be far longer than its inputs."""

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if name == "join" and args:
                items = list(args[0])
                self.check_length(sum(len(i) for i in items if isinstance(i, _TEXT)) + len(text) * len(items))
                return method(items)
            if name in ("ljust", "rjust", "center", "zfill") and args:
                self.check_width(args[0])
            elif name == "expandtabs":
                tab = args[0] if args else kwargs.get("tabsize", 8)
                self.check_length(len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(tab, 0))
            elif name == "replace" and len(args) >= 2:
                count = text.count(args[0])
                if len(args) > 2 and args[2] >= 0:
                    count = min(count, args[2])
                self.check_length(len(text) + count * max(len(args[1]) - len(args[0]), 0))
            elif name == "translate" and args and isinstance(args[0], dict):
                longest = max((len(v) for v in args[0].values() if isinstance(v, _TEXT)), default=1)
                self.check_length(len(text) * longest)
            return method(*args, **kwargs)

        return guarded


def _is_code(value: Any) -> bool:
    """Values a script may hold but that must not become task data."""
    return callable(value) or isinstance(value, (types.ModuleType, types.SimpleNamespace, types.GeneratorType))


def _check_data(data: Mapping[str, Any], limit: int) -> None:
    """Refuse data whose expansion is too large ([s] * 10**5 is small here but huge as JSON) or that hides code."""
    stack: list[Any] = list(data.values())
    left = limit
    while stack:  # host code, bounded by `limit`
        item = stack.pop()
        left -= 1 + (len(item) if isinstance(item, _TEXT) else 0)
        if left < 0:
            raise SandboxError(f"the data left by the script exceeds the sandbox limit of {limit:,} items")
        if _is_code(item):  # a nested lambda would otherwise leave the sandbox and could run unguarded later
            raise SandboxError("functions, generators and modules cannot be stored in task data")
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)


def _one_line(error: BaseException) -> str:
    try:
        text = " ".join(str(error).split())
    except Exception:  # noqa: BLE001 - e.g. an int argument too long to print
        text = ""
    return text[:300]


class SandboxEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """Runs Spiff scripts and expressions under RestrictedPython with guards and limits."""

    def __init__(self, helpers: Mapping[str, Any] | None = None, *, limits: Limits = DEFAULT_LIMITS) -> None:
        super().__init__(dict(helpers or {}))
        self.limits = limits

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
                 ) -> Any:
        """Evaluate an expression over the task data (which is left untouched)."""
        self._prepare_context(context)
        scope, _injected, guards = self._scope(context, external_context)
        return self._run(expression, "eval", scope, guards)

    def execute(self, script: str, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
                ) -> bool:
        """Run a script and write its variables back into the task data (all or nothing)."""
        clashes = set(self.globals).union(external_context or {}).intersection(context)
        if clashes:
            raise SandboxError(f"task data overwrites predefined names, rename them: {', '.join(sorted(clashes))}")
        self._prepare_context(context)
        scope, injected, guards = self._scope(context, external_context)
        self._run(script, "exec", scope, guards)
        kept = {k: v for k, v in scope.items() if k not in injected and not _is_code(v)}
        kept.update((k, context[k]) for k in injected.intersection(context))  # odd keys like "_print" survive
        _check_data(kept, self.limits.max_data)
        context.clear()
        context.update(kept)
        return True

    def eval_expression(self, expression: str, names: Mapping[str, Any]) -> Any:
        """Evaluate a standalone expression (a check rule) against a dict of names."""
        return self.evaluate(expression, dict(names))

    def _scope(self, context: Mapping[str, Any], external: Mapping[str, Any] | None
               ) -> tuple[dict[str, Any], set[str], _Guards]:
        guards = _Guards(self.limits)
        reserved = guards.names()
        # Guards go last so task data (a form field named "_getattr_") can never replace them.
        scope = {**self.globals, **(external or {}), **context, **reserved}
        return scope, {*self.globals, *(external or {}), *reserved, "_print"}, guards

    def _run(self, source: str, mode: str, scope: dict[str, Any], guards: _Guards) -> Any:
        code, reasons = _compiled(source, mode, self.limits)
        if code is None:
            raise SandboxError("code refused: " + "; ".join(reasons))
        try:
            return guards.run(code, scope)
        except SandboxError as error:
            raise SandboxError(error.message + _where(error, mode)) from None
        except _Abort as error:
            raise SandboxError(f"{error}{_where(error, mode)}") from None
        except Exception as error:
            raise SandboxError(f"{type(error).__name__}: {_one_line(error)}{_where(error, mode)}") from error


def _where(error: BaseException, mode: str) -> str:
    """' (line N)' for the innermost procedure line of a script's error; expressions are one line."""
    lines = [line for frame, line in traceback.walk_tb(error.__traceback__) if frame.f_code.co_filename == FILENAME]
    return f" (line {lines[-1]})" if mode == "exec" and lines and lines[-1] else ""


def make_script_engine(helpers: Mapping[str, Any] | None = None, limits: Limits = DEFAULT_LIMITS
                       ) -> PythonScriptEngine:
    """Build a Spiff PythonScriptEngine whose environment is the sandbox."""
    return PythonScriptEngine(environment=SandboxEnvironment(helpers, limits=limits))
