import type { Redis } from '../redis';

/**
 * The Redis side of a batch of chat messages, in one atomic script call, so two ingest replicas
 * never both let a message or a user through and a flood costs one round trip per batch.
 * For each message, in order: drop it if its platform id was seen; then, for messages that passed
 * the local filter, the user's rate limit, the repeat window and the command's global and per-user
 * cooldowns. Nothing is consumed unless every check passes.
 * Seen ids live in one Redis set per time slot of `dedupeMs` (the slot from Redis's own clock), the
 * batch asking the current and the previous slot once each (SMISMEMBER) and adding its new ids
 * once (SADD): an id is remembered for between one and two `dedupeMs`. A key with a TTL per
 * message cost about a third of the check's Redis time in a flood.
 * The rate limit is a token bucket kept as one number, GCRA's "theoretical arrival time" (TAT):
 * a message passes while TAT - now ≤ (capacity - 1) × interval, and moves TAT one interval on.
 * Most users of a flood come with a full bucket: one SET ... GET per user and batch writes the
 * TAT their message makes and reads the old one (a hash of tokens and time took three calls); a
 * user whose TAT was ahead, or whose message failed a check, is written again at the end. The
 * key expires when the bucket is full again.
 * Only the keys a message needs are sent (a plain chat line: its bucket). ARGV: capacity,
 * interval ms, repeat ms, dedupe ms, one string of one mask character per message (48 + bits:
 * 1 check, 2 bucket, 4 recent, 8 cooldown, 16 user cooldown; the bits say which KEYS are its),
 * the seen sets' key prefix, the count of cooldown ms that follow, those ms in order, then each
 * message's seen id. Returns the results as one string, one character per message (k ok,
 * d duplicate, r rate limited, p repeated, c cooldown, u user cooldown), and the slot the new ids
 * went to.
 */
const CHAT_BATCH_CHECK_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity, interval, repeatMs, dedupeMs, masks = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), ARGV[5]
local slot = math.floor(now / dedupeMs)
local current, previous = ARGV[6] .. slot, ARGV[6] .. (slot - 1)
local ids = 8 + tonumber(ARGV[7])
local last = ids + #masks - 1
local inCurrent = redis.call('SMISMEMBER', current, unpack(ARGV, ids, last))
local inPrevious = redis.call('SMISMEMBER', previous, unpack(ARGV, ids, last))
local tolerance = (capacity - 1) * interval + 0.001
local tats, guessed, fresh, batch = {}, {}, {}, {}
local out = {}
local k, a = 1, 8
for n = 1, #masks do
  local mask = string.byte(masks, n) - 48
  local id = ARGV[ids + n - 1]
  local bucket, recent, cd, ucd, cdMs, ucdMs
  if mask % 4 >= 2 then bucket = KEYS[k]; k = k + 1 end
  if mask % 8 >= 4 then recent = KEYS[k]; k = k + 1 end
  if mask % 16 >= 8 then cd = KEYS[k]; k = k + 1; cdMs = ARGV[a]; a = a + 1 end
  if mask >= 16 then ucd = KEYS[k]; k = k + 1; ucdMs = ARGV[a]; a = a + 1 end
  local result = 'k'
  if inCurrent[n] == 1 or inPrevious[n] == 1 or batch[id] then
    result = 'd'
  else
    batch[id] = true
    fresh[#fresh + 1] = id
    if mask % 2 == 1 then
      local tat
      if bucket then
        tat = tats[bucket]
        if not tat then
          -- Most of a flood's chatters have a full bucket (no TAT, or one past): what this message
          -- writes is known before the read, so one SET ... GET does both; the rest are fixed below.
          local guess = string.format('%.3f', now + interval)
          tat = math.max(tonumber(redis.call('SET', bucket, guess, 'PX', math.ceil(interval) + 1000, 'GET')) or now, now)
          guessed[bucket] = guess
          tats[bucket] = tat
        end
      end
      if tat and tat - now > tolerance then result = 'r'
      elseif recent and redis.call('EXISTS', recent) == 1 then result = 'p'
      elseif cd and redis.call('EXISTS', cd) == 1 then result = 'c'
      elseif ucd and redis.call('EXISTS', ucd) == 1 then result = 'u'
      else
        if bucket then tats[bucket] = tat + interval end
        if recent then redis.call('SET', recent, 1, 'PX', repeatMs) end
        if cd then redis.call('SET', cd, 1, 'PX', cdMs) end
        if ucd then redis.call('SET', ucd, 1, 'PX', ucdMs) end
      end
    end
  end
  out[n] = result
end
if #fresh > 0 then
  redis.call('SADD', current, unpack(fresh))
  redis.call('PEXPIRE', current, 2 * dedupeMs)
end
for key, tat in pairs(tats) do
  local value = string.format('%.3f', tat)
  if value ~= guessed[key] then redis.call('SET', key, value, 'PX', math.ceil(tat - now) + 1000) end
end
return { table.concat(out), slot }
`;

// Give back what a batch that could not be enqueued took (ARGV: interval ms, then per KEYS bucket
// the tokens its messages took): each TAT goes back that many intervals, never before now.
const CHAT_BATCH_REFUND_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key))
  if tat then
    local back = math.max(now, tat - interval * tonumber(ARGV[i + 1]))
    redis.call('SET', key, string.format('%.3f', back), 'PX', math.ceil(back - now) + 1000)
  end
end
return 0
`;

/** The result characters of the script, as the chat decision's reason words. */
const RESULTS: Readonly<Record<string, string>> = { k: 'ok', d: 'duplicate', r: 'rate limited', p: 'repeated', c: 'cooldown', u: 'user cooldown' };

/** What one message asks of the batch check ('' or 0 leaves a check out). */
export interface ChatCheckRequest {
  /** The message's platform id as the seen sets hold it (`seenId`). */
  seen: string;
  /** False for messages already decided locally: only the duplicate mark applies. */
  check: boolean;
  bucket?: string;
  recent?: string;
  cooldown?: string;
  userCooldown?: string;
  globalMs?: number;
  userMs?: number;
}

/** A platform message's id in the seen sets: the platform, the room (its length first, so no two rooms and ids run together) and the id. */
export const seenId = (platform: string, room: string, id: string) => `${platform}:${room.length}:${room}:${id}`;

/** Register the script on a connection (ioredis runs it by SHA, loading it when needed). */
export function defineChatCheck(redis: Redis): void {
  redis.defineCommand('idolcastChatBatchCheck', { lua: CHAT_BATCH_CHECK_LUA });
}

/**
 * Take back what a checked batch took, when it could not be enqueued, so its redelivery is
 * processed as if the first delivery never came: the seen ids it added (`ids`), and for `passed`
 * (the requests whose check said ok) their repeat marks, cooldowns and rate-limit tokens.
 */
async function undo(redis: Redis, seenKey: string, intervalMs: number, ids: string[], passed: ChatCheckRequest[]): Promise<void> {
  const marks = passed.flatMap((r) => [r.recent, r.cooldown, r.userCooldown].filter((k): k is string => !!k));
  const tokens = new Map<string, number>();
  for (const r of passed) if (r.bucket) tokens.set(r.bucket, (tokens.get(r.bucket) ?? 0) + 1);
  const m = redis.multi();
  if (ids.length) m.srem(seenKey, ...ids);
  if (marks.length) m.del(...marks);
  if (tokens.size) m.eval(CHAT_BATCH_REFUND_LUA, tokens.size, ...tokens.keys(), intervalMs, ...tokens.values());
  await m.exec();
}

/**
 * Run the checks of a batch: one result word per request, in order (ok, duplicate, rate limited,
 * repeated, cooldown, user cooldown), and `forget`, which takes back what the batch took (see
 * `undo`) when it could not be enqueued.
 */
export async function chatBatchCheck(
  redis: Redis,
  limits: { capacity: number; perMs: number; repeatMs: number; dedupeMs: number; seenPrefix: string },
  requests: ChatCheckRequest[],
): Promise<{ results: string[]; forget: () => Promise<void> }> {
  if (!requests.length) return { results: [], forget: async () => {} };
  const keys: string[] = [];
  const cooldowns: number[] = [];
  let masks = '';
  for (const r of requests) {
    let mask = r.check ? 1 : 0;
    if (r.check) {
      if (r.bucket) {
        mask |= 2;
        keys.push(r.bucket);
      }
      if (r.recent) {
        mask |= 4;
        keys.push(r.recent);
      }
      if (r.cooldown) {
        mask |= 8;
        keys.push(r.cooldown);
        cooldowns.push(Math.max(1, r.globalMs ?? 0));
      }
      if (r.userCooldown) {
        mask |= 16;
        keys.push(r.userCooldown);
        cooldowns.push(Math.max(1, r.userMs ?? 0));
      }
    }
    masks += String.fromCharCode(48 + mask);
  }
  const interval = 1 / limits.perMs;
  const run = (redis as unknown as { idolcastChatBatchCheck: (numKeys: number, ...a: (string | number)[]) => Promise<[string, number]> }).idolcastChatBatchCheck;
  const [out, slot] = await run.call(redis, keys.length, ...keys, limits.capacity, interval, Math.max(1, limits.repeatMs), limits.dedupeMs, masks, limits.seenPrefix, cooldowns.length, ...cooldowns, ...requests.map((r) => r.seen));
  const results = Array.from(out, (c) => RESULTS[c] ?? `unexpected check result ${c}`);
  // A duplicate's id was there before this batch: it stays.
  const added = requests.filter((_r, n) => results[n] !== 'duplicate');
  const passed = requests.filter((r, n) => r.check && results[n] === 'ok');
  return {
    results,
    forget: () => undo(redis, `${limits.seenPrefix}${slot}`, interval, added.map((r) => r.seen), passed),
  };
}
