import type { ChainableCommander, Redis } from 'ioredis';

/**
 * One atomic check per chat message, so two ingest replicas never both let a user through.
 * KEYS: token bucket (hash t, ts), recent-text key, global cooldown, user cooldown; an empty key
 * name skips that check. ARGV: capacity, tokens per ms, repeat window ms, global and user cooldown
 * ms. Nothing is consumed unless every check passes. Returns 'ok' or the reason it failed.
 */
const CHAT_CHECK_LUA = `
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local tokens
if KEYS[1] ~= '' then
  local b = redis.call('HMGET', KEYS[1], 't', 'ts')
  tokens = tonumber(b[1]) or capacity
  local ts = tonumber(b[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
  if tokens < 1 then return 'rate limited' end
end
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return 'repeated' end
if KEYS[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return 'cooldown' end
if KEYS[4] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then return 'user cooldown' end
if KEYS[1] ~= '' then
  redis.call('HSET', KEYS[1], 't', tokens - 1, 'ts', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
end
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], 1, 'PX', ARGV[3]) end
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], 1, 'PX', ARGV[4]) end
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], 1, 'PX', ARGV[5]) end
return 'ok'
`;

type ChatCheck = (bucket: string, recent: string, cooldown: string, userCooldown: string, capacity: number, perMs: number, repeatMs: number, globalMs: number, userMs: number) => unknown;

/** Register the check script on a connection (ioredis loads it by SHA, falling back to EVAL). */
export function defineChatCheck(redis: Redis): void {
  redis.defineCommand('idolcastChatCheck', { numberOfKeys: 4, lua: CHAT_CHECK_LUA });
}

/** Queue the check on a pipeline built from a connection that ran `defineChatCheck`. */
export function chatCheck(pipeline: ChainableCommander, ...args: Parameters<ChatCheck>): void {
  (pipeline as unknown as { idolcastChatCheck: ChatCheck }).idolcastChatCheck(...args);
}
