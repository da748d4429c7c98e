/**
 * Where one chat line's time goes on its way to air, for the broadcast bench (`BENCH_ONLY=rtmp`):
 * each hop from the jobs' own timestamps (added, taken), then air → heard. Its own file: bench.ts
 * is past the length a file should have.
 */
import type { ChatEvent } from '../queues/chat-event.schema';
import type { Queues } from '../queues/registry';

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

/** Where one line's time went, from the jobs' own timestamps (added, taken, finished) on the way to air. */
export async function hopTimes(queues: Queues, e: ChatEvent, sentAt: number, heard: number): Promise<Record<string, number> | undefined> {
  const u = `local-${e.id}`;
  const [chat, tts, audio, playout] = await Promise.all([queues.queue('chat').getJob(`local-main-${e.id}`), queues.queue('tts').getJob(u), queues.queue('audio').getJob(`${u}-p0`), queues.queue('playout', 'main').getJob(u)]);
  if (!chat?.processedOn || !tts?.processedOn || !audio?.processedOn || !playout?.processedOn) return undefined;
  return {
    chatPickup: chat.processedOn - sentAt,
    ingest: tts.timestamp - chat.processedOn,
    ttsPickup: tts.processedOn - tts.timestamp,
    synthesis: audio.timestamp - tts.processedOn,
    audioPickup: audio.processedOn - audio.timestamp,
    audioEncode: playout.timestamp - audio.processedOn,
    playoutPickup: playout.processedOn - playout.timestamp,
    // The pump's tick, the encoder, the pusher, nginx-rtmp and the viewer's decoder.
    airToHeard: heard - playout.processedOn,
  };
}

/** The median of each hop over the lines. */
export function hopMedians(hops: Record<string, number>[]): Record<string, number> {
  const names = Object.keys(hops[0] ?? {});
  return Object.fromEntries(names.map((n) => [n, Math.round(median(hops.map((h) => h[n]!)) * 10) / 10]));
}
