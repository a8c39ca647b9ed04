"""A real Lua interpreter for a TSP twin, sandboxed: what a stranger's chunk may touch.

Why a real Lua (``lupa``, Lua 5.1: TSP is Lua 5.0/5.1-based, and 5.1 hashes strings
without a random seed, so ``next()`` walks a table in the same order every run): TSP
clients send whole programs (loops, functions, scripts), not commands from a list, and a
client that introspects the instrument (the keithley2600 package walks ``_G`` and the
objects' metatables) must find a Lua state there.

The sandbox: a client's chunk runs in an environment of its own (``setfenv``) holding
only the safe parts of the standard library — no ``os``, ``io``, ``require``, ``package``,
``debug``, ``loadfile``/``dofile``, ``load`` of anything but a string, ``string.dump``,
``getfenv``/``setfenv``, precompiled (binary) chunks, nor lupa's ``python`` bridge
(the strings' metatable leads to the guarded string library); every Python object lupa could
hand over is behind an attribute filter that refuses every attribute. CPU is bounded by
an instruction-count hook: past ``INSTRUCTION_LIMIT`` instructions a chunk is stopped with
a run-time error that ``pcall``/``xpcall``/``coroutine.resume`` cannot swallow (each
re-raises it), so ``while true do end`` ends in ~0.1 s. Memory is bounded by lupa's
``max_memory``. Not bounded: a single C call that runs long (a pathological string
pattern over a long subject); subjects of the string library's matching functions are
cut to ``MAX_SUBJECT`` bytes, which keeps those short.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lupa.lua51 as lua51

#: Lua VM instructions one message (or script run) may take (~0.2 s here)
INSTRUCTION_LIMIT = 100_000_000
#: bytes the Lua state may hold: the instrument's objects, a client's tables and scripts
MAX_MEMORY = 64 << 20
#: longest subject the string matching functions take
MAX_SUBJECT = 1 << 16
KILLED = "script stopped: instruction limit"

_SANDBOX = r"""
local budget_steps, max_subject, killed_message = ...
local sethook, rawpcall, rawxpcall = debug.sethook, pcall, xpcall
local unpack, select, loadstring, setfenv = unpack, select, loadstring, setfenv
local steps, killed = 0, false
local STEP = 1000

local function hook()
  steps = steps + 1
  if steps > budget_steps then killed = true error(killed_message, 0) end
end

local function rethrow_if_killed(...)
  if killed then error(killed_message, 0) end
  return ...
end

local env = {}
for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget", "rawset",
    "select", "tonumber", "tostring", "type", "unpack", "getmetatable", "setmetatable", "_VERSION"}) do
  env[name] = _G[name]
end
env.pcall = function(...) return rethrow_if_killed(rawpcall(...)) end
env.xpcall = function(...) return rethrow_if_killed(rawxpcall(...)) end
local function copy(lib, names)
  local out = {}
  for _, name in ipairs(names) do out[name] = lib[name] end
  return out
end
env.math = copy(math, {"abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp",
  "floor", "fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min", "modf", "pi", "pow", "rad",
  "random", "randomseed", "sin", "sinh", "sqrt", "tan", "tanh"})
env.table = copy(table, {"concat", "insert", "maxn", "remove", "sort", "getn"})
env.string = copy(string, {"byte", "char", "format", "len", "lower", "rep", "reverse", "sub", "upper"})
for _, name in ipairs({"find", "match", "gmatch", "gsub"}) do
  local original = string[name]
  env.string[name] = function(s, ...)
    if type(s) == "string" and #s > max_subject then error("string too long to match", 2) end
    return original(s, ...)
  end
end
local co = coroutine
env.coroutine = copy(co, {"running", "status", "yield"})
env.coroutine.create = function(f)
  local thread = co.create(f)
  sethook(thread, hook, "", STEP)
  return thread
end
env.coroutine.resume = function(...) return rethrow_if_killed(co.resume(...)) end
env.coroutine.wrap = function(f)
  local thread = env.coroutine.create(f)
  return function(...)
    local results = {co.resume(thread, ...)}
    rethrow_if_killed()
    if not results[1] then error(results[2], 0) end
    return unpack(results, 2, table.maxn(results))
  end
end
getmetatable("").__index = env.string  -- ("x"):find(...) is the guarded find; no dump
env.load = function(chunk, name)
  if type(chunk) ~= "string" then error("load takes a string here", 2) end
  if chunk:byte(1) == 27 then return nil, "binary chunks are refused" end
  local fn, err = loadstring(chunk, name)
  if fn then setfenv(fn, env) end
  return fn, err
end
env.loadstring = env.load
env._G = env

-- compile: (true, function) or (false, message); run: (true) or (false, message)
local function compile(source, name)
  if source:byte(1) == 27 then return false, "binary chunks are refused" end
  local fn, err = loadstring(source, name)
  if not fn then return false, err end
  setfenv(fn, env)
  return true, fn
end
local function run(fn, ...)
  steps, killed = 0, false
  sethook(hook, "", STEP)
  local ok, err = rawpcall(fn, ...)
  sethook()
  if not ok then return false, tostring(err) end
  return true, nil
end
local function define(source, name)  -- code of the twin's own (the instrument's objects), in env
  local fn = assert(loadstring(source, name))
  setfenv(fn, env)
  return fn
end
return env, compile, run, define
"""


def _refuse(obj: Any, name: Any, setting: bool) -> Any:
    raise AttributeError("no Python attributes here")


class LuaSandbox:
    """One twin's Lua state: an environment for clients, and the twin's own code in it."""

    def __init__(self) -> None:
        self.runtime = lua51.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            max_memory=MAX_MEMORY,
            attribute_filter=_refuse,
        )
        made = self.runtime.execute(_SANDBOX, INSTRUCTION_LIMIT // 1000, MAX_SUBJECT, KILLED)
        self.env, self._compile, self._run, self._define = made
        self.runtime.globals().python = None  # lupa's bridge, out of every reach

    def compile(self, source: str, name: str = "=chunk") -> tuple[bool, Any]:
        """``(True, function)`` or ``(False, the Lua syntax error)``."""
        ok, result = self._compile(source, name)
        return bool(ok), result

    def run(self, function: Any, *args: Any) -> str | None:
        """Run a compiled chunk within the limits; None, or the run-time error's message."""
        try:
            ok, error = self._run(function, *args)
        except lua51.LuaMemoryError:
            return "not enough memory"
        return None if ok else str(error)

    def define(self, source: str, name: str) -> Callable[..., Any]:
        """The twin's own Lua code (its objects), compiled in the clients' environment."""
        function: Callable[..., Any] = self._define(source, name)
        return function

    def table(self, *items: Any, **fields: Any) -> Any:
        """A Lua table of ``items`` (1, 2, ...) and ``fields``."""
        return self.runtime.table(*items, **fields)
