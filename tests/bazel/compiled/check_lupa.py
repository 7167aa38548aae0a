# Lua's error handling is setjmp/longjmp in C: an error() deep inside Lua unwinds to the protected call that
# lupa (or Lua's own pcall) set up. Each check below longjmps across several C frames.
import lupa.lua51
from lupa.lua51 import LuaError, LuaRuntime

lua = LuaRuntime(unpack_returned_tuples=True)
assert lua.eval("1 + 2 * 3") == 7
fib = lua.eval("function(n) local a, b = 0, 1 for _ = 1, n do a, b = b, a + b end return a end")
assert fib(70) == 190392490709135  # exact in Lua 5.1's double

# error() -> longjmp to lupa's lua_pcall -> a Python exception.
try:
    lua.execute(
        "local function deep(n) if n == 0 then error('boom at the bottom') end return deep(n - 1) end; deep(200)"
    )
except LuaError as err:
    assert "boom at the bottom" in str(err), err
else:
    raise AssertionError("error() did not reach Python")

# pcall inside Lua: the longjmp stops at Lua's own setjmp, the interpreter goes on.
ok, message = lua.execute("return pcall(function() error({code = 42}) end)")
assert ok is False and message["code"] == 42, (ok, message)
results = lua.execute(
    "local out = {} for i = 1, 1000 do local ok, e = pcall(error, i) out[#out + 1] = e end return #out, out[1000]"
)
assert results == (1000, "1000"), results  # Lua 5.1's error() passes the value on as a string


# A Python exception raised in a callback crosses Lua (longjmp) and comes back as a Python exception.
def fail(x: str) -> None:
    raise ValueError(f"python says no to {x}")


try:
    lua.eval("function(f) return f('lua') end")(fail)
except ValueError as err:
    assert "python says no to lua" in str(err), err
else:
    raise AssertionError("the callback's exception was lost")

# Lua's string library and coroutines (lua_resume/lua_yield also use the longjmp machinery).
gen = lua.eval("coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i * i) end end)")
assert [gen(), gen(), gen()] == [1, 4, 9]
assert lua.eval("string.format('%5.2f|%s', math.pi, ('x'):rep(3))") == " 3.14|xxx"
print("lupa ok:", lupa.lua51.LUA_VERSION, lua.lua_implementation)
