import { Command } from 'commander';
import { LocalFleet } from './harness';
import { AiBooks } from './harness-ai';
import { sleep } from '../src/time';
import { runMain } from './run-main';
import { isRunning } from '../testkit/procfs';

/**
 * `npm run chaos`: the whole fleet on this machine (see harness.ts) with chat at a steady rate,
 * and one failure after another, each bounded. For each scenario one JSON line: messages sent,
 * accepted, spoken, shed (by reason), lost, spoken twice, the longest silence on air, the time
 * until chat sent after the failure was heard again, and whether it passed:
 * lost = 0 (except in the Redis crash, where up to the AOF's last second may go: counted),
 * spoken twice = 0, longest unintended silence ≤ 2 s, and recovered without a human.
 * `--short` cuts every scenario to seconds (what `npm test` runs). The one-host scenarios share
 * one fleet (with a warm standby); `kill-host` then starts a fleet of two hosts of its own.
 */
const opts = new Command()
  .option('--short', 'each scenario cut to seconds')
  .option('--only <names>', 'comma-separated scenario names')
  .option('--rate <r>', 'chat messages per second between failures (about what the idol can say)', (v) => Number(v), 0.8)
  .parse()
  .opts<{ short?: boolean; only?: string; rate: number }>();

const SHORT = Boolean(opts.short);
/** Longest silence on air a scenario may cause (the bed fills intended gaps, so any is unintended). */
const MAX_SILENCE_MS = 2000;
/** The fleet's broadcast lock period (the default `playout.leaderLockMs`). */
const LEADER_LOCK_MS = 1000;

interface Scenario {
  name: string;
  /** Break something while chat flows; resolves when the failure is over (the fleet should heal from then). */
  run(fleet: LocalFleet, chat: (ms: number) => Promise<string[]>): Promise<{ ids: string[]; notes?: Record<string, unknown>; ok?: boolean }>;
  /** Silence that is the scenario's point (the destination itself is down), not counted. */
  silenceExempt?: boolean;
  /** Messages may be lost in this one (Redis's AOF window), counted and reported. */
  mayLose?: boolean;
  /** Runs on a fleet of this many hosts (each with every worker kind and a broadcaster), not the usual one. */
  hosts?: number;
  /** Runs on a fleet with AI replies (a loopback model and moderator), apart from the others. */
  ai?: boolean;
}

/** Wall time of a fleet log line (pino's `time`), or now when it has none. */
const logTime = (l: Record<string, unknown>) => (typeof l.time === 'number' ? l.time : Date.parse(String(l.time))) || Date.now();

const seconds = (long: number, short: number) => (SHORT ? short : long) * 1000;
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;

/** Redis may still be coming back: try a few times. */
async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= 20) throw err;
      await sleep(500);
    }
  }
}

const scenarios: Scenario[] = [
  {
    name: 'kill-workers',
    async run(fleet, chat) {
      const ids: string[] = [];
      const killed: string[] = [];
      for (let round = 0; round < (SHORT ? 2 : 4); round++) {
        for (const kind of ['tts', 'audio', 'scene', 'maintenance', 'routine']) {
          const victims = fleet.processes().filter((p) => p.args.includes(` worker ${kind}`) && p.args.startsWith(process.execPath));
          if (!victims.length) continue;
          process.kill(pick(victims).pid, 'SIGKILL');
          killed.push(kind);
        }
        ids.push(...(await chat(seconds(8, 3))));
      }
      return { ids, notes: { killed: killed.length } };
    },
  },
  {
    name: 'redis-restart',
    mayLose: true,
    async run(fleet, chat) {
      const ids = [...(await chat(seconds(4, 2)))];
      const during = chat(seconds(6, 3));
      await sleep(500);
      await fleet.crashRedis();
      ids.push(...(await during));
      return { ids };
    },
  },
  {
    name: 'tts-outage',
    async run(fleet, chat) {
      fleet.tts.faults.openai = '500';
      const ids = await chat(seconds(60, 6));
      fleet.tts.faults.openai = 'ok';
      return { ids, notes: { cloudRequests: fleet.tts.count('openai') } };
    },
  },
  {
    name: 'twitch-reconnect',
    async run(fleet, chat) {
      const ids = [...(await chat(seconds(3, 1)))];
      fleet.twitch.broadcast(fleet.channel, ':tmi.twitch.tv RECONNECT');
      await sleep(200);
      fleet.twitch.dropAll();
      await fleet.twitch.joined(fleet.channel, 30_000);
      ids.push(...(await chat(seconds(5, 2))));
      return { ids };
    },
  },
  {
    name: 'rtmp-down',
    silenceExempt: true,
    async run(fleet, chat) {
      await fleet.nginx.stop();
      const ids = await chat(seconds(30, 4));
      await fleet.nginx.start();
      await fleet.waitForLog((l) => l.msg === 'destination on air', 30_000, 'the destination back on air');
      fleet.watchStream();
      return { ids };
    },
  },
  {
    name: 'flood',
    async run(fleet) {
      const total = SHORT ? 4000 : 20_000;
      const ids = await fleet.drive(total / 10, 10_000);
      return { ids };
    },
  },
  {
    name: 'kill-broadcaster',
    async run(fleet, chat) {
      const ids = [...(await chat(seconds(3, 2)))];
      const pid = await fleet.activeBroadcasterPid();
      const active = fleet.processes().find((p) => p.pid === pid);
      if (active) process.kill(active.pid, 'SIGKILL');
      ids.push(...(await chat(seconds(6, 4))));
      return { ids, notes: { killedActive: Boolean(active) } };
    },
  },
  {
    // The machine starves the active broadcaster (SIGSTOP) past its lock period, then lets it run
    // (SIGCONT): the standby takes the channel, the woken one steps down, and the line that was on
    // air is aired again by the new holder (or counted lost), never counted twice. The frozen
    // process's pusher holds the destination until it wakes, so the gap on air is the scenario's point.
    name: 'starved-broadcaster',
    silenceExempt: true,
    async run(fleet, chat) {
      const ids = [...(await chat(seconds(3, 2)))];
      const pid = await fleet.activeBroadcasterPid();
      const active = fleet.processes().find((p) => p.pid === pid);
      const during = chat(seconds(6, 4));
      let why: unknown;
      if (active) {
        const steppedDown = fleet.waitForLog((l) => l.pid === active.pid && l.msg === 'lost the broadcast lock: stopping', 30_000, 'the woken broadcaster stepping down');
        process.kill(active.pid, 'SIGSTOP');
        await sleep(3 * LEADER_LOCK_MS);
        process.kill(active.pid, 'SIGCONT');
        why = (await steppedDown).why;
      }
      ids.push(...(await during));
      return { ids, notes: { stoppedActive: Boolean(active), stoppedMs: 3 * LEADER_LOCK_MS, why, interruptedLines: fleet.interruptions() } };
    },
  },
  {
    // The flood with AI replies on: a question is answered before it; under it AI replies are shed
    // first (only paid messages are offered once the fleet degrades), every paid message (one in a
    // thousand, a Twitch cheer) still gets its reply on air, and nothing accepted is lost.
    name: 'ai-flood',
    ai: true,
    async run(fleet) {
      const books = new AiBooks();
      fleet.onLog((l) => books.book(l));
      fleet.llm!.reply.openai = 'Thank you so much! You made my day.';
      const first = fleet.chat('Aiko, are you there?');
      await fleet.waitForLog((l) => l.msg === 'AI reply queued for speech' && l.messageId === first, 60_000, 'an AI reply before the flood');
      const total = SHORT ? 4000 : 20_000;
      const kind = (i: number) => (i % 1000 === 500 ? 'paid' : i % 10 === 0 ? 'question' : 'plain');
      const message = (i: number): [string?, Record<string, string | number>?] =>
        kind(i) === 'paid' ? [`Cheer100 Aiko, this one is for you (${i})`, { bits: 100 }] : kind(i) === 'question' ? [`Aiko, question number ${i}?`] : [];
      const ids = await fleet.drive(total / 10, 10_000, message);
      const paid = ids.filter((_id, i) => kind(i) === 'paid');
      const floodOver = Date.now();
      while (!books.answeredAll(paid) && Date.now() < floodOver + 180_000) await sleep(500);
      const paidRepliesQueuedMs = Date.now() - floodOver; // the last paid reply queued for speech, after the flood (±0.5 s)
      await fleet.settle(60_000);
      const ai = books.account(paid, ids.filter((_id, i) => kind(i) !== 'paid'), (u) => fleet.aired.get(u) ?? 0);
      return { ids, notes: { ai: { ...ai, paidRepliesQueuedMs } }, ok: ai.paidAnsweredOnAir === ai.paidSent };
    },
  },
  {
    // A whole machine lost at once: every process of the host holding the channel (its
    // supervisor, control, ingest, every worker, the broadcaster and their ffmpegs) SIGKILLed in
    // one sweep. The other host's warm broadcaster takes the channel when the lock lapses, its
    // workers take over the dead host's jobs when their locks lapse, and its ingest (joined to the
    // same chat all along) keeps deciding. The takeover is measured from the kill to the
    // survivor's lock (`takeoverLockMs`) and to its push reaching nginx (`takeoverOnAirMs`).
    name: 'kill-host',
    hosts: 2,
    async run(fleet, chat) {
      const ids = [...(await chat(seconds(3, 2)))];
      const pid = await fleet.activeBroadcasterPid();
      const active = pid === undefined ? undefined : fleet.hostOf(pid);
      const victim = active ?? fleet.hosts[0]!;
      const survivor = fleet.hosts.find((h) => h !== victim)!;
      const bySurvivor = (msg: string) => (l: Record<string, unknown>) => l.msg === msg && fleet.hostOf(Number(l.pid)) === survivor;
      const took = fleet.waitForLog(bySurvivor('broadcaster active'), 30_000, "the other host's broadcaster taking the channel").catch(() => undefined);
      const onAir = fleet.waitForLog(bySurvivor('destination on air'), 30_000, "the other host's broadcaster on air").catch(() => undefined);
      const during = chat(seconds(8, 5));
      await sleep(500);
      const { killedAt, pids } = fleet.killHost(victim);
      const [lock, air] = await Promise.all([took, onAir]);
      ids.push(...(await during));
      const leftRunning = pids.filter(isRunning).length;
      const since = (l?: Record<string, unknown>) => (l ? logTime(l) - killedAt : null);
      const notes = { killedHost: victim.name, killedActiveHost: Boolean(active), killedProcesses: pids.length, leftRunning, takeoverLockMs: since(lock), takeoverOnAirMs: since(air) };
      return { ids, notes, ok: Boolean(active && lock && air) && leftRunning === 0 };
    },
  },
];

/** Runs `list` one after another on one fleet; returns how many failed. */
async function runScenarios(fleet: LocalFleet, list: Scenario[]): Promise<number> {
  let failed = 0;
  try {
    await fleet.start();
    const chat = (ms: number) => fleet.drive(opts.rate, ms);
    for (const s of list) {
      await chat(2000); // steady before
      const from = Date.now();
      const { ids, notes, ok = true } = await s.run(fleet, chat);
      const over = Date.now();
      // Recovered: a line sent through the whole pipeline after the failure, ahead of the chat
      // backlog, is on air (the time it took is the time to recover).
      const probe = await retry(() => fleet.probe(`after ${s.name}, are you there?`));
      const recovered = await fleet.waitForUtterance(probe, 60_000);
      const recoverMs = recovered === undefined ? null : Math.max(0, recovered - over);
      await fleet.settle(SHORT ? 20_000 : 60_000);
      await sleep(1500);
      const books = fleet.account(ids);
      const silence = fleet.longestSilenceMs(s.silenceExempt ? over + 3000 : from, Date.now());
      const pass = ok && (books.lost === 0 || Boolean(s.mayLose)) && books.spokenTwice === 0 && silence <= MAX_SILENCE_MS && recoverMs !== null;
      if (!pass) failed++;
      console.log(JSON.stringify({ scenario: s.name, seconds: Math.round((over - from) / 100) / 10, ...books, longestSilenceMs: Math.round(silence), recoverMs, ...notes, pass }));
    }
  } finally {
    await fleet.stop();
  }
  return failed;
}

async function main(): Promise<void> {
  const only = opts.only?.split(',');
  const chosen = scenarios.filter((s) => !only || only.includes(s.name));
  let failed = 0;
  // The one-host scenarios share a fleet with a warm standby; the others get a fleet of their shape
  // (more hosts, or AI replies on).
  const shape = (s: Scenario) => `${s.hosts ?? 1}${s.ai ? '+ai' : ''}`;
  for (const key of [...new Set(chosen.map(shape))]) {
    const list = chosen.filter((s) => shape(s) === key);
    const { hosts = 1, ai = false } = list[0]!;
    failed += await runScenarios(new LocalFleet(hosts > 1 ? { hosts, ai } : { standbys: 1, ai }), list);
  }
  process.exitCode = failed ? 1 : 0;
}

runMain(main);
