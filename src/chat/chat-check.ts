import type { Redis } from '../redis';

/**
 * The Redis side of a batch of chat messages, in one atomic script call, so two ingest replicas
 * never both let a message or a user through and a flood costs one round trip per batch.
 * For each message, in order: drop it if its platform id was seen (SET NX with a TTL); then,
 * for messages that passed the local filter, the user's token bucket, the repeat window and the
 * command's global and per-user cooldowns. Nothing is consumed unless every check passes.
 * Buckets are read and written once per user per batch.
 * Only the keys a message needs are sent (a plain chat line: its seen mark and its bucket), so a
 * flood's call stays small: per message, one ARGV bit mask says which keys follow its seen key
 * (1 check, 2 bucket, 4 recent, 8 cooldown, 16 user cooldown), then the cooldowns' ms if present.
 * ARGV: capacity, tokens per ms, repeat ms, dedupe ms, then per message: mask [, global ms][, user ms].
 * Returns one word per message: ok, duplicate, rate limited, repeated, cooldown, user cooldown.
 */
const CHAT_BATCH_CHECK_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity, rate, repeatMs, dedupeMs = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local buckets = {}
local out = {}
local k, a = 1, 5
while a <= #ARGV do
  local mask = tonumber(ARGV[a])
  a = a + 1
  local seen = KEYS[k]
  k = k + 1
  local bucket, recent, cd, ucd, cdMs, ucdMs
  if mask % 4 >= 2 then bucket = KEYS[k]; k = k + 1 end
  if mask % 8 >= 4 then recent = KEYS[k]; k = k + 1 end
  if mask % 16 >= 8 then cd = KEYS[k]; k = k + 1; cdMs = ARGV[a]; a = a + 1 end
  if mask >= 16 then ucd = KEYS[k]; k = k + 1; ucdMs = ARGV[a]; a = a + 1 end
  local result = 'ok'
  if not redis.call('SET', seen, 1, 'PX', dedupeMs, 'NX') then
    result = 'duplicate'
  elseif mask % 2 == 1 then
    local b
    if bucket then
      b = buckets[bucket]
      if not b then
        local v = redis.call('HMGET', bucket, 't', 'ts')
        local tokens = tonumber(v[1]) or capacity
        local ts = tonumber(v[2]) or now
        b = { tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate) }
        buckets[bucket] = b
      end
    end
    if b and b.tokens < 1 then result = 'rate limited'
    elseif recent and redis.call('EXISTS', recent) == 1 then result = 'repeated'
    elseif cd and redis.call('EXISTS', cd) == 1 then result = 'cooldown'
    elseif ucd and redis.call('EXISTS', ucd) == 1 then result = 'user cooldown'
    else
      if b then b.tokens = b.tokens - 1; b.dirty = true end
      if recent then redis.call('SET', recent, 1, 'PX', repeatMs) end
      if cd then redis.call('SET', cd, 1, 'PX', cdMs) end
      if ucd then redis.call('SET', ucd, 1, 'PX', ucdMs) end
    end
  end
  out[#out + 1] = result
end
for key, b in pairs(buckets) do
  if b.dirty then
    redis.call('HSET', key, 't', b.tokens, 'ts', now)
    redis.call('PEXPIRE', key, math.ceil(capacity / rate) + 1000)
  end
end
return out
`;

/** What one message asks of the batch check ('' or 0 leaves a check out). */
export interface ChatCheckRequest {
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

/** Register the script on a connection (ioredis runs it by SHA, loading it when needed). */
export function defineChatCheck(redis: Redis): void {
  redis.defineCommand('idolcastChatBatchCheck', { lua: CHAT_BATCH_CHECK_LUA });
}

/** Run the checks of a batch; one result word per request, in order. */
export async function chatBatchCheck(
  redis: Redis,
  limits: { capacity: number; perMs: number; repeatMs: number; dedupeMs: number },
  requests: ChatCheckRequest[],
): Promise<string[]> {
  if (!requests.length) return [];
  const keys: string[] = [];
  const args: (string | number)[] = [limits.capacity, limits.perMs, Math.max(1, limits.repeatMs), limits.dedupeMs];
  for (const r of requests) {
    keys.push(r.seen);
    let mask = r.check ? 1 : 0;
    const maskAt = args.push(0) - 1;
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
        args.push(Math.max(1, r.globalMs ?? 0));
      }
      if (r.userCooldown) {
        mask |= 16;
        keys.push(r.userCooldown);
        args.push(Math.max(1, r.userMs ?? 0));
      }
    }
    args[maskAt] = mask;
  }
  const run = (redis as unknown as { idolcastChatBatchCheck: (numKeys: number, ...a: (string | number)[]) => Promise<string[]> }).idolcastChatBatchCheck;
  return run.call(redis, keys.length, ...keys, ...args);
}
