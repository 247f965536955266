// scripts.cpp - the Lua text of the record, block and inspect scripts.
//
// The record is the reference's JSON document (see README.md, "Layout"),
// edited with Redis' bundled cjson. Timestamps are Unix milliseconds written
// as 13-digit strings, for two reasons:
//  * cjson prints numbers with 14 significant digits, so the reference's
//    nanoseconds (19 digits) cannot survive a decode/encode round trip;
//  * formatting numbers is most of cjson.encode's cost (measured: encoding a
//    record of 13 numeric timestamps took about twice as long as the same
//    record with string timestamps), while strings of equal length compare
//    in Lua exactly like the numbers they spell, so expiry needs no tonumber.
// Numeric timestamps (an older record, or one the reference wrote, in ns)
// are read and rewritten as ms strings.
#include "scripts.hpp"

#include <array>

#include "sha1.hpp"

namespace geopol::redis_store {

namespace {

// Shared by all three scripts. KEYS[1] is the account's key, ARGV[1] the ttl
// in seconds. Defines: key, ttl (ms), now (ms), nowText, open(), sweep(),
// save(), bad().
constexpr const char *kPrelude = R"lua(-- geopol redis-store
if redis.replicate_commands then redis.replicate_commands() end
local key = KEYS[1]
local ttl = tonumber(ARGV[1]) * 1000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local nowText = string.format('%013d', now)
local limitText = string.format('%013d', now - ttl)

-- The record as a table, with its four maps present; nil if the value is not
-- a JSON object (the caller then answers bad()).
local function open(raw)
  local r = {}
  if raw then
    local ok, v = pcall(cjson.decode, raw)
    if not ok or type(v) ~= 'table' then return nil end
    r = v
  end
  local h = r.HomeCountries
  if type(h) ~= 'table' then h = {}; r.HomeCountries = h end
  if type(r.ForeignIPs) ~= 'table' then r.ForeignIPs = {} end
  if type(r.ForeignCountries) ~= 'table' then r.ForeignCountries = {} end
  if type(h.IPs) ~= 'table' then h.IPs = {} end
  if type(h.Countries) ~= 'table' then h.Countries = {} end
  return r
end

-- Ends a temporary block whose time is up; purges expired entries unless the
-- account is permanently blocked; returns the reply, whether the block is
-- permanent, and the ms until the whole record expires (0: nothing live).
local function sweep(r, lists)
  local perm = r.Locked == true
  local at = tonumber(r.BlockedAt)
  if not perm and at and at + ttl <= now then
    at = nil
    r.BlockedAt = nil
  end
  local h = r.HomeCountries
  local maps = {r.ForeignIPs, r.ForeignCountries, h.IPs, h.Countries}
  local reply = {1, 0, 0, 0, 0, 0, -1, -1, 0}
  local latest = ''
  for i = 1, 4 do
    local m, n, l = maps[i], 0, nil
    if lists then l = {}; reply[9 + i] = l end
    for k, v in pairs(m) do
      if type(v) ~= 'string' or #v ~= 13 then
        v = tonumber(v) or 0
        if v > 1e14 then v = math.floor(v / 1e6) end
        v = string.format('%013d', v)
        m[k] = v
      end
      if perm or v > limitText then
        n = n + 1
        if lists then l[n] = k end
        if v > latest then latest = v end
      else
        m[k] = nil
      end
    end
    reply[1 + i] = n
  end
  local expires = 0
  if latest ~= '' then expires = tonumber(latest) + ttl end
  if perm then
    reply[6] = 2
  elseif at then
    reply[6] = 1
    reply[7] = math.ceil((at + ttl - now) / 1000)
    if at + ttl > expires then expires = at + ttl end
  end
  local left = 0
  if not perm and expires > now then
    left = expires - now
    reply[8] = math.ceil(left / 1000)
  end
  return reply, perm, left
end

-- Writes the record back: no expiry while permanently blocked, else until its
-- last entry or block ends; a record with nothing left is deleted.
local function save(r, perm, left)
  r.Locked = perm
  if r.Actions == nil then r.Actions = cjson.null end
  if perm then
    redis.call('SET', key, cjson.encode(r))
  elseif left > 0 then
    redis.call('SET', key, cjson.encode(r), 'PX', left)
  else
    redis.call('DEL', key)
  end
end

local function bad()
  return redis.error_reply('GEOPOL_BADVALUE ' .. key ..
    ' does not hold a JSON object; DEL it to reset the account')
end
)lua";

// ARGV: ttl, ip ('' for none), country ('' for none), home ('1'/'0'), lists ('1'/'0').
constexpr const char *kRecord = R"lua(
local ip, cc, lists = ARGV[2], ARGV[3], ARGV[5] == '1'
local raw = redis.call('GET', key)
if not raw and ip == '' and cc == '' then
  -- Nothing to remember: do not create an empty record.
  local reply = {0, 0, 0, 0, 0, 0, -1, -1, 0}
  if lists then reply[10], reply[11], reply[12], reply[13] = {}, {}, {}, {} end
  return reply
end
local r = open(raw)
if not r then return bad() end
local ips, ccs = r.ForeignIPs, r.ForeignCountries
if ARGV[4] == '1' then ips, ccs = r.HomeCountries.IPs, r.HomeCountries.Countries end
-- A clock that stepped back never shortens an entry's life.
if ip ~= '' and not (type(ips[ip]) == 'string' and ips[ip] > nowText) then ips[ip] = nowText end
if cc ~= '' and not (type(ccs[cc]) == 'string' and ccs[cc] > nowText) then ccs[cc] = nowText end
local reply, perm, left = sweep(r, lists)
save(r, perm, left)
return reply
)lua";

// ARGV: ttl, permanent ('1'/'0'). reply[9] is 1 for the one caller that made
// the transition: the script runs alone, so no two callers can both see "not
// blocked".
constexpr const char *kBlock = R"lua(
local r = open(redis.call('GET', key))
if not r then return bad() end
local at = tonumber(r.BlockedAt)
local newly = 0
if r.Locked ~= true and not (at and at + ttl > now) then
  newly = 1
  r.BlockedAt = nowText
  if ARGV[2] == '1' then r.Locked = true end
end
local reply, perm, left = sweep(r, false)
reply[9] = newly
save(r, perm, left)
return reply
)lua";

// ARGV: ttl. Writes nothing, so it also runs on a read-only replica.
constexpr const char *kInspect = R"lua(
local raw = redis.call('GET', key)
if not raw then return {0, 0, 0, 0, 0, 0, -1, -1, 0, {}, {}, {}, {}} end
local r = open(raw)
if not r then return bad() end
local reply = sweep(r, true)
if reply[6] == 0 and reply[2] + reply[3] + reply[4] + reply[5] == 0 then reply[1] = 0 end
return reply
)lua";

Script make(std::string_view name, const char *body)
{
    Script s{name, std::string(kPrelude) + body, {}};
    s.sha = sha1Hex(s.body);
    return s;
}

}  // namespace

const Script &script(ScriptId id)
{
    static const std::array<Script, kScriptCount> scripts = {
        make("record", kRecord),
        make("block", kBlock),
        make("inspect", kInspect),
    };
    return scripts[static_cast<size_t>(id)];
}

}  // namespace geopol::redis_store
