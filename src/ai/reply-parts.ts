import type { Redis } from '../redis';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Keyspace } from '../redis';
import { ModelChain } from './chain';
import { llmEngines } from './engines';
import { IdleTalk } from './idle';
import { Memory } from './memory';
import type { ReplyDeps } from './reply';
import { ReplyPolicy } from './reply-policy';
import { SafetyGate } from './safety';
import { AiSwitch } from './switch';
import { VoicedWatch } from './voiced-watch';

/** What the reply worker uses: who to answer, whether it may, what it remembers, and the reply generator's parts. */
export interface AiParts {
  policy: ReplyPolicy;
  switch: AiSwitch;
  memory: Memory;
  /** When the idol starts a topic of its own (shared state in Redis). */
  idle: IdleTalk;
  reply: ReplyDeps;
  /** Holds a reply's slot until its lines are voiced (absent: the slot is given back once they are queued). */
  voiced?: VoicedWatch;
  shutdown(): void;
}

/** The AI parts of one process over its config and Redis (the breakers' state is shared through Redis). */
export function aiParts(ctx: { config: Config; redis: Redis; keys: Keyspace; log: Logger; metrics: Metrics }, opts: { waitVoiced?: boolean } = {}): AiParts {
  const { config, redis, keys, log, metrics } = ctx;
  const engines = llmEngines(config.ai, log);
  const chain = new ModelChain({ ai: config.ai, engines, redis, keys, log, metrics });
  const gate = new SafetyGate({ config, redis, keys, log, metrics });
  const voiced = opts.waitVoiced === false ? undefined : new VoicedWatch({ redis, keys, log });
  return {
    voiced,
    policy: new ReplyPolicy({ config, redis, log, metrics }),
    switch: new AiSwitch({ config, redis, log }),
    memory: new Memory({ config, redis, log }),
    idle: new IdleTalk({ config, redis, log }),
    reply: { ai: config.ai, chain, gate, engines, log },
    shutdown() {
      chain.shutdown();
      gate.shutdown();
      voiced?.close();
    },
  };
}
