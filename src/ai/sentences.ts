import { EMOTIONS, type Emotion } from '../config/ai.schema';

/** One sentence of a reply, ready for the safety gate and then speech. */
export interface Sentence {
  /** 0-based position in the reply. */
  index: number;
  text: string;
  /** The emotion tagged on it, else the previous sentence's, else neutral. */
  emotion: Emotion;
  /** Cut short by the reply's maximum length: the reply ends with it. */
  cut?: boolean;
}

export interface SentenceOptions {
  /** A sentence without an end by this many characters is cut at a word boundary. */
  maxChars: number;
  /** The whole reply's limit; the stream stops there (the model is no longer read). */
  maxReplyChars: number;
  /**
   * Asked when the deltas end: whether the text ended as the model meant it. When not (a broken
   * stream, a deadline), the unfinished sentence left over is dropped, not spoken half.
   */
  complete?: () => boolean;
}

const KNOWN: ReadonlySet<string> = new Set(EMOTIONS);
/** A tag the model may write: `[happy]`. Unknown ones (`[wink]`, `[system]`) are stripped as well. */
const TAG_RE = /\[\s*([A-Za-z_-]{1,20})\s*\]/g;
/**
 * A sentence end: Latin ends need a following space (so 3.14 and a half-streamed "..." wait for
 * more); CJK ends and newlines end a sentence where they stand. Closing quotes stay with it.
 */
const END_RE = /(?:[.!?…]+["'”’)\]」』]*(?=\s)|[。！？]+["'”’)\]」』]*|\n)/u;

/** Text without tags, whitespace tidied, and the first known emotion among its tags. */
export function parseTags(raw: string): { text: string; emotion?: Emotion } {
  let emotion: Emotion | undefined;
  const text = raw.replace(TAG_RE, (_m, tag: string) => {
    const t = tag.toLowerCase();
    if (!emotion && KNOWN.has(t)) emotion = t as Emotion;
    return ' ';
  });
  return { text: text.replace(/\s+/gu, ' ').trim(), emotion };
}

/** Where to cut text at most `max` long: the last space past half of it, else `max`. */
function wordCut(text: string, max: number): number {
  const space = text.slice(0, max + 1).lastIndexOf(' ');
  return space > max / 2 ? space : max;
}

/** The end of the first complete sentence in `buf`, or -1 to wait for more (an over-long one is cut at a word). */
function boundary(buf: string, maxChars: number): number {
  // Tags are not spoken: they do not count toward the length.
  const limit = maxChars + (buf.length - buf.replace(TAG_RE, '').length);
  const m = END_RE.exec(buf);
  if (m && m.index + m[0].length <= limit) return m.index + m[0].length;
  return buf.length > limit ? wordCut(buf, limit) : -1;
}

/** A sentence cut to fit what is left of the reply shorter than this is dropped instead. */
const MIN_CUT_CHARS = 10;

/**
 * Model text deltas in, sentences out as soon as each is complete, so the first one can be
 * spoken while the model still writes. Emotion tags are stripped and carried; sentences that are
 * only tags or punctuation are dropped; the reply stops at the persona's maximum length (the
 * last sentence cut at a word boundary) and the model is not read further.
 */
export async function* toSentences(deltas: AsyncIterable<string>, opts: SentenceOptions): AsyncGenerator<Sentence> {
  let buf = '';
  let index = 0;
  let used = 0;
  let emotion: Emotion = 'neutral';
  /** The sentence of `raw` (undefined: nothing to say) and whether the reply is full with it. */
  const take = (raw: string): { sentence?: Sentence; full: boolean } => {
    const parsed = parseTags(raw);
    if (parsed.emotion) emotion = parsed.emotion;
    if (!/[\p{L}\p{N}]/u.test(parsed.text)) return { full: false };
    const left = opts.maxReplyChars - used - (index ? 1 : 0);
    if (parsed.text.length <= left) {
      used += parsed.text.length + (index ? 1 : 0);
      return { sentence: { index: index++, text: parsed.text, emotion }, full: false };
    }
    const text = parsed.text.slice(0, wordCut(parsed.text, left)).trim();
    return { sentence: text.length >= MIN_CUT_CHARS ? { index: index++, text, emotion, cut: true } : undefined, full: true };
  };
  for await (const delta of deltas) {
    buf += delta;
    for (let at = boundary(buf, opts.maxChars); at > 0; at = boundary(buf, opts.maxChars)) {
      const { sentence, full } = take(buf.slice(0, at));
      buf = buf.slice(at);
      if (sentence) yield sentence;
      if (full) return;
    }
  }
  if (opts.complete && !opts.complete()) return;
  const { sentence } = take(buf);
  if (sentence) yield sentence;
}
