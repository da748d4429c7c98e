import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { ChatEvent } from '../../queues/chat-event.schema';
import { YouTubeSource, STREAM_BURST, streamIntervalMs } from '../../src/chat/sources/youtube.source';
import { createLogger } from '../../src/logger';
import { TestFleet, eventually } from '../helpers/fleet';
import { testPipeline } from '../helpers/pipeline';
import { FakeYouTube } from '../../testkit/fake-youtube';
import { FakeYouTubeStream } from '../../testkit/fake-youtube-stream';

const until = (what: string, probe: () => boolean, timeoutMs?: number) => eventually(async () => (probe() ? true : undefined), what, timeoutMs);

describe('YouTube live chat through streamList (a loopback gRPC V3DataLiveChatMessageService)', () => {
  let fleet: TestFleet;
  let chat: FakeYouTube;
  let stream: FakeYouTubeStream;
  let src: YouTubeSource | undefined;
  const events: ChatEvent[] = [];
  const logs: Record<string, unknown>[] = [];
  const logSink = new Writable({ write: (chunk: Buffer, _e, cb) => (logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>), cb()) });

  beforeEach(async () => {
    chat = new FakeYouTube();
    stream = new FakeYouTubeStream(chat);
    fleet = new TestFleet();
    await Promise.all([chat.ready, stream.ready]);
    events.length = 0;
    logs.length = 0;
  });
  afterEach(async () => {
    await src?.stop();
    src = undefined;
    await stream.close();
    await chat.close();
    await fleet?.close();
  });

  function start(over: Record<string, unknown> = {}, sink: (e: ChatEvent) => void = (e) => events.push(e)) {
    const config = {
      ...fleet.config.chat.youtube, enabled: true, baseUrl: chat.url, grpcUrl: stream.url, apiKey: 'secret-key', videoId: chat.videoId,
      backoffBaseMs: 100, backoffCapMs: 1000, dailyQuotaUnits: 50_000_000, streamIdleMs: 60_000, streamRetryMs: 60_000, ...over,
    };
    src = new YouTubeSource({ config, channel: 'main', log: createLogger('yt-stream-test', 'debug', logSink), redis: fleet.redis, keys: fleet.keys });
    void src.start(sink);
    return src;
  }

  const ids = () => events.map((e) => e.id);

  it('pushes messages in order as they are posted; a dropped stream resumes from the last token: none lost, none twice', async () => {
    chat.addPage(['a', 'b']);
    chat.addPage([{ id: 'c', type: 'superChatEvent', text: 'love it', superChat: { amountMicros: '5000000', currency: 'USD' }, author: { channelId: 'UCfan', displayName: 'Big Fan', isChatSponsor: true } }]);
    stream.dropAfter = 2;
    start();
    await until('a reconnect after the drop', () => stream.calls.length >= 2);
    chat.addPage(['d']);
    chat.addPage(['e', 'f']);
    await until('six messages', () => events.length >= 6);
    expect(ids()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(events[2]).toMatchObject({ platform: 'youtube', room: chat.liveChatId, kind: 'superchat', text: 'love it', paid: { amount: 5, currency: 'USD' }, user: { displayName: 'Big Fan', roles: ['member'] } });
    expect(stream.calls.map((c) => c.pageToken ?? '-')).toEqual(['-', 'p2']);
    expect(stream.calls.every((c) => c.hasKey && c.liveChatId === chat.liveChatId)).toBe(true);
    expect(chat.polls()).toHaveLength(0);
    expect(JSON.stringify(logs)).not.toContain('secret-key');
    expect(await fleet.redis.get(fleet.keys.youtubePageToken(chat.liveChatId))).toBe('p4');
  });

  it('UNIMPLEMENTED: falls back to polling liveChatMessages.list, and streams again from the polled token later', async () => {
    stream.mode = 'unimplemented';
    chat.addPage(['a']);
    chat.addPage(['b']);
    start({ streamRetryMs: 500 });
    await until('both pages polled', () => events.length >= 2);
    expect(chat.polls().length).toBeGreaterThan(0);
    expect(logs.some((l) => l.msg === 'youtube streaming refused or failing: polling for now' && l.code === 'UNIMPLEMENTED')).toBe(true);
    stream.mode = 'ok';
    await until('streaming tried again', () => stream.calls.length >= 2);
    await until('the stream is read', () => src!.status().connected && logs.filter((l) => l.msg === 'youtube chat transport').length >= 3);
    chat.addPage(['c']);
    await until('c', () => events.length >= 3);
    expect(ids()).toEqual(['a', 'b', 'c']);
    expect(stream.sentAt.has('c')).toBe(true);
    expect(stream.calls.at(-1)!.pageToken).toBe('p2');
  });

  it('a streaming endpoint that cannot be reached: after three failed opens, polls instead', async () => {
    chat.addPage(['a']);
    start({ grpcUrl: 'grpc://127.0.0.1:1', backoffBaseMs: 20, backoffCapMs: 50 });
    await until('a, polled', () => events.length >= 1);
    expect(ids()).toEqual(['a']);
    expect(logs.filter((l) => l.msg === 'youtube chat read failed: backing off' && l.reason === 'UNAVAILABLE')).toHaveLength(2);
    expect(logs.some((l) => l.msg === 'youtube streaming refused or failing: polling for now' && l.code === 'UNAVAILABLE')).toBe(true);
  });

  it('a stream that accepts and never sends is dropped after streamIdleMs and reopened', async () => {
    stream.mode = 'silent';
    chat.addPage(['a']);
    start({ transport: 'stream', streamIdleMs: 300 });
    await until('a second call after the idle one', () => stream.calls.length >= 2);
    stream.mode = 'ok';
    await until('a', () => events.length >= 1, 30_000);
    expect(ids()).toEqual(['a']);
    expect(logs.some((l) => l.msg === 'youtube chat read failed: backing off' && l.reason === 'DEADLINE_EXCEEDED')).toBe(true);
  });

  it('malformed items are skipped with a log and an undecodable response is reconnected past; the chat goes on', async () => {
    chat.addPage([{ id: 'x1', raw: { id: 'x1' } }, { id: 'x2', raw: { snippet: { type: 'TEXT_MESSAGE_EVENT' } } }, 'a', { id: 'x3', raw: { id: 'x3', snippet: { type: 'NOT_A_TYPE' }, authorDetails: { channelId: 'UCz' } } }]);
    stream.mode = 'garbage';
    start({ transport: 'stream' });
    await until('a reconnect after the garbage', () => stream.calls.length >= 2);
    stream.mode = 'ok';
    chat.addPage(['b']);
    await until('a and b', () => events.length >= 2);
    expect(ids()).toEqual(['a', 'b']);
    expect(logs.filter((l) => l.msg === 'youtube item skipped: no id, snippet or author').map((l) => l.id)).toEqual(['x1', '']);
  });

  it('each message is decided once by the command processor across a lost token and a re-read page', async () => {
    const { pipeline } = testPipeline(fleet);
    const decided: { id: string; decision: string }[] = [];
    const sink = (e: ChatEvent) => void pipeline.accept(e).then((o) => decided.push({ id: e.id, decision: o.decision }));
    chat.addPage(['a', 'b']);
    chat.addPage(['c']);
    start({}, sink);
    await until('three decisions', () => decided.length >= 3);
    await src!.stop();
    // The token save was lost (a crash between reading and saving): the next reader starts over.
    await fleet.redis.del(fleet.keys.youtubePageToken(chat.liveChatId));
    chat.addPage(['d']);
    start({}, sink);
    await until('seven decisions', () => decided.length >= 7);
    const spoken = decided.filter((d) => d.decision === 'spoken').map((d) => d.id);
    expect(spoken).toEqual(['a', 'b', 'c', 'd']);
    expect(decided.filter((d) => d.decision === 'duplicate').map((d) => d.id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('offline_at ends the chat: the source stops reading it (no video id to look for a new one)', async () => {
    chat.addPage(['a']);
    start({ videoId: '', liveChatId: chat.liveChatId });
    await until('a', () => events.length >= 1);
    stream.goOffline();
    await until('the chat given up', () => logs.some((l) => l.msg === 'youtube live chat unavailable' && l.reason === 'liveChatEnded'));
    expect(src!.status().connected).toBe(false);
    expect(stream.calls).toHaveLength(1);
  });

  it('each StreamList call is charged to the daily quota: refused calls stop after the burst until the pace allows more', async () => {
    const units = 5 * (24 + STREAM_BURST); // one call an hour, the burst included
    stream.mode = 'permissionDenied';
    start({ transport: 'stream', dailyQuotaUnits: units, backoffBaseMs: 20, backoffCapMs: 50 });
    const key = fleet.keys.youtubeNextPoll(chat.liveChatId);
    await eventually(async () => ((await fleet.redis.pttl(key)) > STREAM_BURST * streamIntervalMs(units) ? true : undefined), 'the burst spent');
    await src!.stop();
    expect(stream.calls).toHaveLength(STREAM_BURST + 1);
  });

  it('the ingest process (built) streams chat into speech jobs and shuts down on SIGTERM with the stream open', async () => {
    chat.addPage(['a', 'b']);
    stream.dropAfter = 1;
    fleet.configure({ chat: { youtube: { enabled: true, apiKey: 'secret-key', baseUrl: chat.url, videoId: chat.videoId, grpcUrl: stream.url, backoffBaseMs: 50, backoffCapMs: 500, dailyQuotaUnits: 50_000_000 } } });
    const ingest = fleet.start(['ingest']);
    await ingest.waitForLog('ingest ready');
    await ingest.waitForLog('chat decision', { messageId: 'b' });
    chat.addPage(['c']);
    await ingest.waitForLog('chat decision', { messageId: 'c' });
    const decisions = ingest.lines.filter((l) => l.msg === 'chat decision').map((l) => `${String(l.messageId)}:${String(l.decision)}`);
    expect(decisions).toEqual(['a:spoken', 'b:spoken', 'c:spoken']);
    expect(stream.calls.map((c) => c.pageToken ?? '-')).toEqual(['-', 'p1']);
    ingest.kill('SIGTERM');
    expect((await ingest.exited).code).toBe(0);
    expect(JSON.stringify(ingest.lines)).not.toContain('secret-key');
  });

  it('figures: posted → ChatEvent and → command processor decision, 50 messages, 3 runs (printed, not asserted)', async () => {
    const got = new Map<string, number>();
    const decided = new Map<string, number>();
    const { pipeline } = testPipeline(fleet);
    start({}, (e) => {
      got.set(e.id, performance.now());
      void pipeline.accept(e).then(() => decided.set(e.id, performance.now()));
    });
    await until('the stream open', () => stream.calls.length >= 1);
    const figures: string[] = [];
    for (let run = 0; run < 3; run++) {
      const toEvent: number[] = [];
      const toDecision: number[] = [];
      for (let i = 0; i < 50; i++) {
        const id = `r${run}m${i}`;
        chat.addPage([{ id, text: `hello number ${i} of run ${run}`, author: { channelId: `UCv${i}`, displayName: `Viewer ${i}` } }]);
        await eventually(async () => (decided.has(id) ? true : undefined), id, 5000, 1);
        toEvent.push(got.get(id)! - stream.sentAt.get(id)!);
        toDecision.push(decided.get(id)! - stream.sentAt.get(id)!);
      }
      const fig = (xs: number[]) => (xs.sort((x, y) => x - y), `median ${xs[24]!.toFixed(2)} ms, p99 ${xs[49]!.toFixed(2)} ms`);
      figures.push(`run ${run + 1}: → ChatEvent ${fig(toEvent)}; → decision ${fig(toDecision)}`);
    }
    console.log(`youtube streamList posted → source (50 messages each):\n${figures.join('\n')}`);
    expect(decided.size).toBe(150);
  });
});
