import { z } from 'zod';

/** The engine that never fails: configured lines. Every persona's model chain ends in one. */
export const CANNED_KIND = 'canned';

/** Situations a spoken reply is made for; canned engines keep lines per situation. */
export const SPOKEN_SITUATIONS = ['reply', 'greeting', 'idle', 'paid', 'blocked'] as const;
/** Every situation the model chain is run for: the spoken ones, and `summary` (the memory job's viewer notes, never spoken; a canned engine answering it means "keep the old notes"). */
export const SITUATIONS = [...SPOKEN_SITUATIONS, 'summary'] as const;
export type Situation = (typeof SITUATIONS)[number];

/** Emotions a model may tag a sentence with (`[happy] …`); carried on the utterance. */
export const EMOTIONS = ['neutral', 'happy', 'sad', 'angry', 'surprised', 'thinking'] as const;
export type Emotion = (typeof EMOTIONS)[number];

const ms = (def: number) => z.number().int().min(0).default(def);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day like 07:30');

/** Who gets a reply (src/ai/reply-policy.ts). */
const replySchema = z
  .strictObject({
    /** Share (0–1) of plain messages (no paid, !ask, mention, question or first chat) answered. */
    sampleRate: z.number().min(0).max(1).default(0.05),
    /** Chat command that always asks the idol (subject to cooldowns). */
    askCommand: z.string().regex(/^!?[a-z0-9_-]{1,32}$/).default('!ask'),
    /** Answer messages that ask a question (contain "?"). */
    answerQuestions: z.boolean().default(true),
    /** Greet a viewer's first message in a channel. */
    greetFirstTimers: z.boolean().default(true),
    /** How long a viewer stays known (not greeted again), and how many a channel remembers. */
    firstSeenTtlMs: ms(30 * 24 * 3600_000),
    firstSeenMax: z.number().int().min(100).max(1_000_000).default(100_000),
    /** A viewer answered waits this long before being answered again (paid messages excepted). */
    userCooldownMs: ms(60_000),
    /** Least time between the starts of two replies in a channel. */
    channelCooldownMs: ms(4_000),
    /** Replies being generated or spoken at once per channel; a slot frees itself after `slotTtlMs` if its worker died. */
    maxInFlight: z.number().int().min(1).max(20).default(1),
    slotTtlMs: z.number().int().min(1000).default(90_000),
    /** Candidates older than this are not answered (skipped); paid ones wait however long it takes. */
    pickWindowMs: z.number().int().min(100).default(5_000),
    /** Most unpaid candidates waiting per channel; the lowest are skipped past it. */
    maxCandidates: z.number().int().min(1).max(1000).default(50),
    /**
     * Of one channel's batch of chat, the AI hears (remembers and may answer) at most this many:
     * paid ones always, then !ask, mentions and questions, then the newest. A chat of a few lines
     * a second comes in batches of one or two, so this bites only in a flood, when the ingest
     * takes hundreds at once: the idol's memory of a flood is a sample, and chat speech keeps its pace.
     */
    heardPerBatch: z.number().int().min(1).max(5000).default(32),
  })
  .prefault({});

/** What the idol remembers (src/ai/memory.ts), all in Redis, per channel. */
const memorySchema = z
  .strictObject({
    /** Conversation lines kept per channel (viewers' and the idol's)… */
    turns: z.number().int().min(0).max(200).default(30),
    /** …and at most about this many tokens of them (estimated as characters / 4). */
    maxTokens: z.number().int().min(50).max(32_000).default(1_500),
    /** A channel's conversation is forgotten after this long without a line. */
    conversationTtlMs: ms(24 * 3600_000),
    /** Longest viewer summary, in characters. */
    summaryMaxChars: z.number().int().min(50).max(2000).default(300),
    /** A viewer's summary and waiting lines are forgotten this long after they last chatted. */
    summaryTtlMs: z.number().int().min(60_000).default(30 * 24 * 3600_000),
    /** Viewers with a summary per channel; the longest unseen are forgotten past it. */
    maxViewersPerChannel: z.number().int().min(10).max(100_000).default(5_000),
    /** A viewer's lines kept for the next summary update (the newest). */
    viewerLines: z.number().int().min(1).max(50).default(10),
    /** Lines waiting that make a summary update due. */
    summaryEvery: z.number().int().min(1).max(50).default(3),
  })
  .prefault({});

/** Idle talk (src/ai/idle.ts): the idol starts a topic when chat is quiet. */
const idleSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Chat quiet this long (and no idle line for as long) before the idol starts a topic. */
    afterMs: z.number().int().min(5_000).default(120_000),
    /** Most idle lines per channel in any hour. */
    maxPerHour: z.number().int().min(0).max(120).default(6),
    /** No idle talk between these times in `timezone` (the schedule's quiet hours when absent). */
    quietHours: z.strictObject({ start: clock, end: clock }).optional(),
    timezone: z.string().optional(),
    /** Topics to start on, each used once before any repeats. */
    topics: z.array(z.string().min(1).max(200)).default(['what everyone is doing today', 'favourite snacks', 'a song stuck in your head', 'the best game you played this year', 'plans for the weekend']),
    /** Where topics come from, tried in turn: the list above, the programme's next entry, what a viewer told the idol. */
    sources: z.array(z.enum(['topics', 'schedule', 'memory'])).min(1).default(['topics', 'schedule', 'memory']),
  })
  .prefault({});
const name = z.string().regex(/^[a-z0-9_-]{1,32}$/, 'a name: a-z 0-9 _ -');

/** A daily budget of one engine: tokens, or money from the configured prices. */
const budgetSchema = z
  .strictObject({
    /** Tokens in + out per UTC day; 0: no token budget. */
    dailyTokens: z.number().int().min(0).default(0),
    /** Money per UTC day (in the unit of the prices); 0: no money budget. */
    dailyCost: z.number().min(0).default(0),
    /** Price per million input tokens. */
    inputPerMillion: z.number().min(0).default(0),
    /** Price per million output tokens. */
    outputPerMillion: z.number().min(0).default(0),
  })
  .prefault({});

const remote = {
  /** API key (env OPENAI_API_KEY or ANTHROPIC_API_KEY by kind); never logged. */
  apiKey: z.string().default(''),
  model: z.string().min(1),
  /** Most tokens one reply may generate. */
  maxTokens: z.number().int().min(1).max(8192).default(200),
  temperature: z.number().min(0).max(2).default(0.8),
  budget: budgetSchema,
};

const cannedLines = (def: string[]) => z.array(z.string().min(1).max(300)).min(1).default(def);

const llmEngineSchema = z.discriminatedUnion('kind', [
  /** OpenAI chat completions and every server speaking it (Ollama, llama.cpp, vLLM, LM Studio…): env OPENAI_BASE_URL. */
  z.strictObject({ kind: z.literal('openai'), ...remote, baseUrl: z.string().default('https://api.openai.com/v1'), model: z.string().min(1).default('gpt-4o-mini') }),
  /** Anthropic Messages (env ANTHROPIC_BASE_URL). */
  z.strictObject({ kind: z.literal('anthropic'), ...remote, baseUrl: z.string().default('https://api.anthropic.com'), model: z.string().min(1).default('claude-haiku-4-5') }),
  /** Lines written by the operator, per situation, picked without repeats; never fails. */
  z.strictObject({
    kind: z.literal(CANNED_KIND),
    lines: z
      .strictObject({
        reply: cannedLines(['[happy] Thanks for chatting with me!', 'Ooh, good one. Let me think about that.', '[thinking] Hmm, I will have to get back to you on that.']),
        greeting: cannedLines(['[happy] Welcome in! Glad you are here.', '[happy] Hi there, welcome to the stream!']),
        idle: cannedLines(['[thinking] It is quiet in here. Tell me what you are up to!', 'What is everyone having for dinner today?', '[happy] Fun fact: I never sleep. Ask me anything!']),
        paid: cannedLines(['[surprised] Wow, thank you so much for the support!', '[happy] Thank you, that means a lot!']),
        blocked: cannedLines(['Let us talk about something else.', '[thinking] Hmm, moving on!']),
      })
      .prefault({}),
  }),
]);
export type LlmEngineConfig = z.infer<typeof llmEngineSchema>;

const personaSchema = z.strictObject({
  name: z.string().min(1).max(50).default('Aiko'),
  /** Who the idol is; the prompt builder adds the rules about chat text after it. */
  systemPrompt: z.string().max(4000).default('You are Aiko, a cheerful virtual idol streaming live 24/7. You chat with your viewers.'),
  style: z.string().max(1000).default('Short, warm, playful sentences. No emoji, no lists, no markdown: everything you write is spoken aloud.'),
  languages: z.array(z.string().min(2).max(20)).min(1).default(['en']),
  /** Topics the idol steers away from. */
  avoidTopics: z.array(z.string().min(1).max(100)).default(['politics', 'religion', 'medical advice']),
  /** Longest reply in characters: the sentence stream stops there. */
  maxReplyChars: z.number().int().min(20).max(2000).default(300),
  /** Voice that speaks the replies (a name in voices; the default voice when absent). */
  voice: z.string().optional(),
  /** Engines to try in order; must end in a canned engine. */
  chain: z.array(name).min(1).default(['cloud', 'canned']),
});
export type PersonaConfig = z.infer<typeof personaSchema>;

export const aiSchema = z
  .strictObject({
    /** AI replies on when the fleet starts for the first time; afterwards the kill switch's state in Redis rules (`idolcast ai off|on`). */
    enabled: z.boolean().default(true),
    reply: replySchema,
    memory: memorySchema,
    idle: idleSchema,
    /** Language model engines by name (keys and addresses from the environment by kind). */
    engines: z.record(name, llmEngineSchema).default({ cloud: llmEngineSchema.parse({ kind: 'openai' }), canned: llmEngineSchema.parse({ kind: CANNED_KIND }) }),
    /** Personas by name. */
    personas: z.record(name, personaSchema).default({ idol: personaSchema.parse({}) }),
    defaultPersona: name.default('idol'),
    /** A model that has not sent its first token this long after the request is abandoned (a breaker failure) and the next one asked. */
    firstTokenDeadlineMs: z.number().int().min(50).default(4000),
    /** A whole reply taking longer is cut there. */
    totalDeadlineMs: ms(30000),
    /** Circuit breaker of each model engine (opossum), its open state shared by the fleet through Redis. */
    breaker: z
      .strictObject({
        errorThresholdPercentage: z.number().min(1).max(100).default(50),
        volumeThreshold: z.number().int().min(1).default(3),
        rollingCountTimeoutMs: ms(30000),
        resetTimeoutMs: ms(30000),
      })
      .prefault({}),
    sentences: z
      .strictObject({
        /** A sentence longer than this is cut at a word boundary, so speech starts early. */
        maxChars: z.number().int().min(20).max(1000).default(200),
      })
      .prefault({}),
    /** Recent conversation turns put in the prompt. */
    historyTurns: z.number().int().min(0).max(50).default(8),
    safety: z
      .strictObject({
        /**
         * `openai`: every generated sentence is checked by an OpenAI-compatible /v1/moderations
         * (fails closed: no answer, no approval). `none`: the banned-words list only; for a
         * local-only setup, chosen explicitly.
         */
        moderation: z.enum(['openai', 'none']).default('openai'),
        /** Moderation endpoint (env MODERATION_BASE_URL) and key (env MODERATION_API_KEY, else OPENAI_API_KEY). */
        baseUrl: z.string().default('https://api.openai.com/v1'),
        apiKey: z.string().default(''),
        model: z.string().default('omni-moderation-latest'),
        timeoutMs: z.number().int().min(50).default(3000),
        breaker: z.strictObject({ volumeThreshold: z.number().int().min(1).default(3), resetTimeoutMs: ms(30000) }).prefault({}),
        /**
         * The broadcast delay: an AI line waits this long between voiced (in the playout) and on
         * air, so a moderator can dump it (`!dump`, `idolcast dump`, the live page). 0: no wait.
         */
        delayMs: z.number().int().min(0).max(600_000).default(8000),
        /** AI lines a channel's delay holds at most; one more is dropped (logged, counted) rather than held. */
        delayMaxLines: z.number().int().min(1).max(10_000).default(200),
      })
      .prefault({}),
  })
  .superRefine((ai, ctx) => {
    if (ai.idle.timezone !== undefined) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: ai.idle.timezone });
      } catch {
        ctx.addIssue({ code: 'custom', path: ['idle', 'timezone'], message: `unknown time zone "${ai.idle.timezone}"` });
      }
    }
    if (!Object.hasOwn(ai.personas, ai.defaultPersona)) ctx.addIssue({ code: 'custom', path: ['defaultPersona'], message: `no persona named "${ai.defaultPersona}"` });
    for (const [p, persona] of Object.entries(ai.personas)) {
      persona.chain.forEach((e, i) => {
        if (!Object.hasOwn(ai.engines, e)) ctx.addIssue({ code: 'custom', path: ['personas', p, 'chain', i], message: `no engine named "${e}" in ai.engines` });
      });
      const last = persona.chain[persona.chain.length - 1]!;
      if (Object.hasOwn(ai.engines, last) && ai.engines[last]!.kind !== CANNED_KIND) {
        ctx.addIssue({ code: 'custom', path: ['personas', p, 'chain'], message: `the model chain (${persona.chain.join(' → ')}) must end in a ${CANNED_KIND} engine, so the idol never falls silent` });
      }
    }
  })
  .prefault({});
export type AiConfig = z.infer<typeof aiSchema>;

/**
 * Keys and addresses of model and moderation engines from the environment, by kind (called by
 * parseConfig after the schema, like the TTS engines'). A key set in the file wins; an address
 * from the environment wins, so one variable points every engine of a kind at a local server.
 */
export function applyAiEnv(ai: AiConfig, env: NodeJS.ProcessEnv): void {
  for (const engine of Object.values(ai.engines)) {
    if (engine.kind === 'openai') {
      engine.apiKey ||= env.OPENAI_API_KEY ?? '';
      if (env.OPENAI_BASE_URL) engine.baseUrl = env.OPENAI_BASE_URL;
    } else if (engine.kind === 'anthropic') {
      engine.apiKey ||= env.ANTHROPIC_API_KEY ?? '';
      if (env.ANTHROPIC_BASE_URL) engine.baseUrl = env.ANTHROPIC_BASE_URL;
    }
  }
  ai.safety.apiKey ||= env.MODERATION_API_KEY ?? env.OPENAI_API_KEY ?? '';
  if (env.MODERATION_BASE_URL) ai.safety.baseUrl = env.MODERATION_BASE_URL;
}
