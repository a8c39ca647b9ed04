-- The Keithley 2600B's TSP objects, built once per twin in the clients' environment
-- (sim_devices/tsp.py runs this with the twin's callbacks as arguments; no client reaches
-- them). Each object is a table whose metatable holds Getters, Setters and Objects, as the
-- instrument's do (the keithley2600 package walks them: getmetatable(smua).Getters, ...),
-- and a luatype. Names from the Series 2600B Reference Manual, section 7.
local host, channels, smu_attributes, instrument_attributes, smu_constants, constants, events = ...
local type, select, error, tostring, setmetatable, getmetatable = type, select, error, tostring, setmetatable, getmetatable
local pairs, ipairs, unpack = pairs, ipairs, unpack
local format, concat, insert = string.format, table.concat, table.insert
local get, set = host.get, host.set

-- every callback answers (error message or nil, values...): an error is the chunk's run-time error
local function check(...)
  local err = ...
  if err then error(err, 3) end
  return select(2, ...)
end

local registry = setmetatable({}, {__mode = "k"})  -- a buffer -> its id; a buffer's table -> {id, field}

local function object(luatype)
  local mt = {Getters = {}, Setters = {}, Objects = {}, luatype = luatype}
  local getters, setters, objects = mt.Getters, mt.Setters, mt.Objects
  mt.__index = function(_, key)
    local getter = getters[key]
    if getter then return getter() end
    return objects[key]
  end
  mt.__newindex = function(_, key, value)
    local setter = setters[key]
    if setter then return setter(value) end
    if getters[key] ~= nil or objects[key] ~= nil then error(tostring(key) .. " is read only", 2) end
    error("there is no attribute " .. tostring(key) .. " to set", 2)
  end
  return setmetatable({}, mt), mt
end

local function split(path)
  local parts = {}
  for part in path:gmatch("[^.]+") do insert(parts, part) end
  return parts
end

-- the attribute at `path` under `root`, through host.get/host.set of (channel, key)
local function attribute(root, path, channel, key, read_only)
  local parts, mt = split(path), getmetatable(root)
  for i = 1, #parts - 1 do
    local child = mt.Objects[parts[i]]
    if child == nil then child = object("table") mt.Objects[parts[i]] = child end
    mt = getmetatable(child)
  end
  local name = parts[#parts]
  mt.Getters[name] = function() return check(get(channel, key)) end
  if not read_only then mt.Setters[name] = function(value) check(set(channel, key, value)) end end
end

local function sub(root, path)  -- the object at `path` under `root`
  local found = root
  for _, part in ipairs(split(path)) do found = getmetatable(found).Objects[part] end
  return found, getmetatable(found)
end

local function id_of(buffer)
  if buffer == nil then return 0 end
  local id = registry[buffer]
  if type(id) ~= "number" then error("a reading buffer expected", 3) end
  return id
end

local function buffer(channel, n)
  local buf, mt = object("reading_buffer")
  local id = 10 * channel + n
  registry[buf] = id
  mt.Getters.n = function() return check(host.buffer_count(id)) end
  mt.Getters.capacity = function() return check(host.buffer_get(id, "capacity")) end
  for _, field in ipairs({"appendmode", "collectsourcevalues", "collecttimestamps", "fillmode",
      "timestampresolution", "basetimestamp"}) do
    mt.Getters[field] = function() return check(host.buffer_get(id, field)) end
    mt.Setters[field] = function(value) check(host.buffer_set(id, field, value)) end
  end
  mt.Objects.clear = function() check(host.buffer_clear(id)) end
  mt.Objects.clearcache = function() end  -- a twin's buffer has no cache to clear
  for _, field in ipairs({"readings", "sourcevalues", "timestamps", "statuses"}) do
    local values, vmt = object("synchronous_table")
    registry[values] = {id, field}
    local function value(i) return check(host.buffer_value(id, field, i)) end
    vmt.Objects.getreading = value
    vmt.__index = function(_, key) if type(key) == "number" then return value(key) end return vmt.Objects[key] end
    mt.Objects[field] = values
  end
  local index = mt.__index
  mt.__index = function(t, key)  -- buffer[i] is buffer.readings[i]
    if type(key) == "number" then return check(host.buffer_value(id, "readings", key)) end
    return index(t, key)
  end
  return buf
end

local function measurements(into, channel, how)  -- v(), i(), iv(), r(), p() of one channel
  for _, kind in ipairs({"v", "i", "iv", "r", "p"}) do
    into[kind] = function(first, second) return check(how(channel, kind, id_of(first), id_of(second))) end
  end
end

for channel = 1, channels do
  local smu, mt = object("smu")
  for name, value in pairs(smu_constants) do mt.Objects[name] = value end
  for _, a in ipairs(smu_attributes) do attribute(smu, a[1], channel, a[2], a[3]) end
  mt.Objects.nvbuffer1, mt.Objects.nvbuffer2 = buffer(channel, 1), buffer(channel, 2)
  mt.Objects.reset = function() check(host.smu_reset(channel)) end
  mt.Objects.abort = function() check(host.abort(channel)) end
  measurements(getmetatable(sub(smu, "measure")).Objects, channel, host.measure)
  local trigger, tmt = sub(smu, "trigger")
  for name, number in pairs(events.smu) do tmt.Objects[name] = number + 6 * (channel - 1) end
  tmt.Objects.initiate = function() check(host.initiate(channel)) end
  tmt.Objects.abort = function() check(host.abort(channel)) end
  local _, source = sub(trigger, "source")
  for _, kind in ipairs({"v", "i"}) do
    source.Objects["list" .. kind] = function(levels)
      if type(levels) ~= "table" then error("a table of levels expected", 2) end
      check(host.trigger_list(channel, kind, levels))
    end
    source.Objects["linear" .. kind] = function(start, stop, points)
      check(host.trigger_linear(channel, kind, start, stop, points))
    end
  end
  measurements(getmetatable(sub(trigger, "measure")).Objects, channel, host.trigger_measure)
  _G["smu" .. ("ab"):sub(channel, channel)] = smu
end

local singles = {}  -- the instrument's objects, by name
for _, name in ipairs({"localnode", "format", "display", "beeper", "errorqueue", "status", "trigger", "timer"}) do
  singles[name] = object(name)
  _G[name] = singles[name]
end
for name, values in pairs(constants) do
  local mt = getmetatable(singles[name])
  for constant, value in pairs(values) do mt.Objects[constant] = value end
end
for _, a in ipairs(instrument_attributes) do  -- "localnode.linefreq": localnode's linefreq
  local first, rest = a[1]:match("^([^.]+)%.(.+)$")
  attribute(singles[first], rest, 1, a[2], a[3])
end

local node = getmetatable(localnode)
node.Getters.model = function() return check(host.model()) end
node.Getters.serialno = function() return check(host.serial()) end
node.Objects.reset = function() check(host.reset()) end
for _, name in ipairs({"prompts", "showerrors"}) do  -- kept, without effect on a twin
  local value = 0
  node.Getters[name] = function() return value end
  node.Setters[name] = function(v) value = v end
end

local queue = getmetatable(errorqueue)
queue.Getters.count = function() return check(host.error_count()) end
queue.Objects.next = function() return check(host.error_next()) end
queue.Objects.clear = function() check(host.error_clear()) end

local shown = getmetatable(display)
for _, name in ipairs({"clear", "settext", "setcursor", "sendkey"}) do shown.Objects[name] = function() end end
getmetatable(beeper).Objects.beep = function() end

local clock = getmetatable(timer)
clock.Objects.reset = function() check(host.timer_reset()) end
local tmeasure = object("table")
getmetatable(tmeasure).Objects.t = function() return check(host.timer_t()) end
clock.Objects.measure = tmeasure

local st = getmetatable(status)
st.Getters.condition = function() return 0 end
st.Objects.reset = function() end
local operation, omt = object("table")
st.Objects.operation = operation
local sweeping, swmt = object("table")
swmt.Getters.condition = function() return check(host.sweeping()) end
omt.Objects.sweeping = sweeping
local measurement, mmt = object("table")
st.Objects.measurement = measurement
local instrument, imt = object("table")
mmt.Objects.instrument = instrument
for channel = 1, channels do
  local one, cmt = object("table")
  cmt.Getters.condition = function() return check(host.limit_bits(channel)) end
  imt.Objects["smu" .. ("ab"):sub(channel, channel)] = one
end

local tr = getmetatable(trigger)
tr.Objects.EVENT_ID = events.trigger
tr.Objects.clear = function() check(host.trigger_clear()) end
tr.Objects.wait = function(timeout) return check(host.trigger_wait(timeout)) end
local blenders, bmt = object("table")
tr.Objects.blender = blenders
for n = 1, 6 do
  local blender, blmt = object("blender")
  blmt.Objects.EVENT_ID = events.blender + n - 1
  blmt.Getters.orenable = function() return check(host.blender_get(n, 0)) end
  blmt.Setters.orenable = function(v) check(host.blender_set(n, 0, v)) end
  local stimulus, stmt = object("table")
  for k = 1, 4 do
    stmt.Getters[k] = function() return check(host.blender_get(n, k)) end
    stmt.Setters[k] = function(v) check(host.blender_set(n, k, v)) end
  end
  blmt.Objects.stimulus = stimulus
  blmt.Objects.clear = function() end
  bmt.Objects[n] = blender
end

local function numbers(fmt, ...)
  local parts = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    parts[i] = type(v) == "number" and format(fmt, v) or tostring(v)
  end
  return concat(parts, "\t")
end
local out = host.out
local fmt = "%.5e"  -- format.asciiprecision's: the twin sets it (set_format) when that changes
local function set_format(f) fmt = f end
print = function(...) out(numbers(fmt, ...)) end
printnumber = function(...) check(host.printnumber(...)) end
printbuffer = function(first, last, ...)
  local ids, fields = {}, {}
  for i = 1, select("#", ...) do
    local r = registry[(select(i, ...))]
    if type(r) == "number" then ids[i], fields[i] = r, "readings"
    elseif type(r) == "table" then ids[i], fields[i] = r[1], r[2]
    else error("printbuffer takes reading buffers and their tables", 2) end
  end
  check(host.printbuffer(first, last, ids, fields))
end
reset = function() check(host.reset()) end
delay = function(seconds) check(host.delay(seconds)) end
waitcomplete = function() check(host.waitcomplete()) end
opc = function() check(host.opc()) end

-- a script made by loadscript ... endscript: run by name(), name.run(); its source kept
local function make_script(fn, name, source)
  local script, smt = object("script")
  smt.Objects.run = function() return fn() end
  smt.Objects.name = name
  smt.Objects.source = source
  smt.__call = function(_, ...) return fn(...) end
  return script
end
return make_script, set_format
