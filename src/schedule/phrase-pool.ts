import { createHash } from 'node:crypto';
import type { Redis } from '../redis';

/**
 * Take the next line of a phrase pool: every line once, in a shuffled order, before any repeats;
 * a new round never starts with the line the last one ended on. The rotation lives in Redis, so
 * it survives restarts and is shared by every routine worker; editing the pool starts a new round.
 *
 * KEYS[1] list of line indices left in this round, KEYS[2] hash {fp, last}
 * ARGV[1] fingerprint of the pool's lines, ARGV[2..] a fresh shuffled round of indices
 */
const PICK = `
local fp = redis.call('HGET', KEYS[2], 'fp')
if fp ~= ARGV[1] or redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
  redis.call('HSET', KEYS[2], 'fp', ARGV[1])
  local last = redis.call('HGET', KEYS[2], 'last')
  if fp == ARGV[1] and #ARGV > 2 and redis.call('LINDEX', KEYS[1], 0) == last then
    redis.call('RPUSH', KEYS[1], redis.call('LPOP', KEYS[1]))
  end
end
local pick = redis.call('LPOP', KEYS[1])
redis.call('HSET', KEYS[2], 'last', pick)
return pick
`;

function shuffled(n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function pickPhrase(redis: Redis, keys: { phrasePool: (pool: string) => string }, pool: string, lines: readonly string[], random: () => number = Math.random): Promise<string> {
  const fp = createHash('sha1').update(JSON.stringify(lines)).digest('hex');
  const key = keys.phrasePool(pool);
  const index = (await redis.eval(PICK, 2, key, `${key}:meta`, fp, ...shuffled(lines.length, random))) as string;
  return lines[Number(index)] ?? lines[0] ?? '';
}
