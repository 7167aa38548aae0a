# kiwisolver's C++ solver: solves a small layout, and its errors, which are C++ exceptions thrown by the solver
# (kiwi::DuplicateConstraint, ...) and caught by the binding, arrive as the Python exceptions (exception catching
# works: with it off, a throw aborts the runtime). The extension must really throw: it imports __cxa_throw and the
# invoke_* trampolines from the runtime (JS exceptions, 0.21/0.23), or the runtime's C++ exception tag (wasm
# exceptions, 0.28+: the throw and catch are wasm instructions, with no JS trampoline).
import sysconfig
from collections.abc import Callable
from pathlib import Path

import kiwisolver
from kiwisolver import (
    BadRequiredStrength,
    Constraint,
    DuplicateConstraint,
    DuplicateEditVariable,
    Solver,
    UnknownConstraint,
    UnsatisfiableConstraint,
    Variable,
    _cext,
)

code = Path(_cext.__file__).read_bytes()
assert code[:4] == b"\0asm", _cext.__file__
needed: tuple[bytes, ...]
absent: tuple[bytes, ...]
if "-fwasm-exceptions" in sysconfig.get_config_var("CONFIGURE_CFLAGS"):
    needed, absent = (b"__cxa_throw", b"__cxa_begin_catch", b"__cpp_exception"), (b"invoke_vi",)
else:
    needed, absent = (b"__cxa_throw", b"__cxa_begin_catch", b"__cxa_find_matching_catch_2", b"invoke_vi"), ()
for name in needed:
    assert name in code, name  # imported from the runtime (SIDE_MODULE=2 keeps no other names)
for name in absent:
    assert name not in code, name
assert kiwisolver.__kiwi_version__ == "1.4.2" and kiwisolver.__version__ == "1.4.5", kiwisolver.__version__


def values(*variables: Variable) -> tuple[float, ...]:
    return tuple(round(v.value(), 6) for v in variables)


# A window of width 500: left, middle and right columns, the middle one twice as wide, 10 px gaps.
left, mid, right, total = Variable("left"), Variable("mid"), Variable("right"), Variable("total")
solver = Solver()
layout = [
    left + mid + right + 20 == total,
    mid == 2 * left,
    left >= 50,
    right >= 100,
    (right == left) | "strong",
    (total == 500) | "medium",
]
for constraint in layout:
    solver.addConstraint(constraint)
solver.updateVariables()
assert values(left, mid, right, total) == (120, 240, 120, 500), values(left, mid, right, total)

solver.addEditVariable(total, "strong")
solver.suggestValue(total, 300)
solver.updateVariables()
# right == left (strong) gives way to the required right >= 100.
assert values(left, mid, right) == (60, 120, 100), values(left, mid, right)

x, other = Variable("x"), Solver()
other.addConstraint(x >= 20)
raised = []
cases: list[tuple[str, Callable[[], object], type[Exception]]] = [
    ("duplicate", lambda: solver.addConstraint(layout[0]), DuplicateConstraint),
    # On a solver of its own: kiwisolver 1.4.5 natively too leaves a solver unusable after this one.
    ("unsatisfiable", lambda: other.addConstraint(x <= 10), UnsatisfiableConstraint),
    ("unknown", lambda: solver.removeConstraint(Constraint(left - 1, "==")), UnknownConstraint),
    ("duplicate edit", lambda: solver.addEditVariable(total, "weak"), DuplicateEditVariable),
    ("required edit", lambda: solver.addEditVariable(left, "required"), BadRequiredStrength),
]
for what, call, error in cases:
    try:
        call()
    except error as err:
        raised.append(what)
        assert isinstance(err, Exception), err
    else:
        raise AssertionError(f"{what}: no {error.__name__}")
assert len(raised) == 5, raised

# The solver is still consistent after the exceptions.
solver.suggestValue(total, 1020)
solver.updateVariables()
assert values(left, mid, right) == (250, 500, 250), values(left, mid, right)
solver.removeConstraint(layout[4])
assert solver.hasConstraint(layout[0]) and not solver.hasConstraint(layout[4])
print("kiwisolver ok: solved, C++ exceptions caught:", ", ".join(raised))
