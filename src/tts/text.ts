/**
 * Text as engines should get it: links and runs of repeated characters or words tamed, the
 * lexicon applied, a length cap; then split into parts so the first can be voiced while the rest
 * is still being synthesised.
 */

const URL_RE = /\b(?:https?:\/\/|www\.)\S+/giu;

/** Prepare a line for synthesis. */
export function prepareText(text: string, opts: { maxLength: number; lexicon: Record<string, string> }): string {
  let t = text.replace(URL_RE, ' a link ');
  // "sooooo" → "sooo", "!!!!!!" → "!!!": engines read long runs letter by letter.
  t = t.replace(/(\S)\1{3,}/gu, '$1$1$1');
  // "lol lol lol lol lol" → "lol lol lol".
  t = t.replace(/\b(\S+)(?:\s+\1\b){3,}/giu, '$1 $1 $1');
  for (const [word, say] of Object.entries(opts.lexicon)) {
    const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    t = t.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'giu'), say);
  }
  t = t.replace(/\s+/gu, ' ').trim();
  if (t.length > opts.maxLength) {
    const cut = t.slice(0, opts.maxLength);
    const space = cut.lastIndexOf(' ');
    t = space > opts.maxLength * 0.6 ? cut.slice(0, space) : cut;
  }
  return t;
}

/**
 * Split text into parts at sentence ends (and, for a long first sentence, at a clause or word
 * boundary), so the first part is at most `firstMax` characters and later parts gather whole
 * sentences up to `restMax`. Joining the parts with spaces gives the text back.
 */
export function splitForSpeech(text: string, firstMax: number, restMax = 400): string[] {
  const sentences = text.match(/[^.!?。！？]+(?:[.!?。！？]+|$)/gu)?.map((s) => s.trim()).filter(Boolean) ?? [];
  const parts: string[] = [];
  for (const s of sentences.length ? sentences : [text]) {
    const limit = parts.length === 0 ? firstMax : restMax;
    const last = parts[parts.length - 1];
    if (parts.length > 1 && last !== undefined && last.length + 1 + s.length <= limit) {
      parts[parts.length - 1] = `${last} ${s}`;
      continue;
    }
    let rest = s;
    while (rest.length > (parts.length === 0 ? firstMax : restMax)) {
      const max = parts.length === 0 ? firstMax : restMax;
      const window = rest.slice(0, max);
      const clause = Math.max(window.lastIndexOf(', '), window.lastIndexOf('; '), window.lastIndexOf(': '));
      const at = clause > max * 0.3 ? clause + 1 : window.lastIndexOf(' ') > 0 ? window.lastIndexOf(' ') : max;
      parts.push(rest.slice(0, at).trim());
      rest = rest.slice(at).trim();
    }
    if (rest) parts.push(rest);
  }
  return parts.length ? parts : [text];
}

/** Escape text for an XML/SSML body: user text can never become markup. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Anything that could be engine markup: tags, brackets, control and format characters. */
const MARKUP_CHARS = /[[\]<>\p{Cc}\p{Cf}]/u;
/** A tag as SSML (and espeak-ng's -m mode) reads one: `<` then a letter, `/`, `!` or `?` (or `<>`). `<3` is no tag. */
const TAG_RE = /<(?:[\p{L}/!?][^<>]*)?>/gu;
/** espeak-ng reads `[[…]]` as raw phonemes (on by default, with or without -m); unclosed runs to the end. */
const PHONEMES_RE = /\[\[[^]*?(?:\]\]|$)/gu;

/**
 * User text as every engine must get it: no engine markup. SSML-like tags and espeak-ng's
 * `[[phoneme]]` input are removed with their content, leftover brackets dropped, and control
 * and format characters (espeak-ng's embedded commands start with ctrl-A) removed. Removed
 * without a space, so `bad<x>word` becomes the `badword` the banned-words filter sees and an
 * engine would say. Idempotent; text without such characters is returned as it is.
 * The command processor runs it before the filter (so the filter checks what is spoken) and
 * every engine runs it again at its boundary (operator, routine and template text included).
 */
export function stripEngineMarkup(text: string): string {
  if (!MARKUP_CHARS.test(text)) return text;
  let t = text;
  // Each pass removes at least one tag, so nested `<<b>>` pieces cannot rejoin into one.
  for (let prev = ''; prev !== t; ) {
    prev = t;
    t = t.replace(TAG_RE, '');
  }
  t = t.replace(PHONEMES_RE, '').replace(/[[\]\p{Cc}\p{Cf}]/gu, (c) => (c === '\n' || c === '\t' ? ' ' : ''));
  return t.replace(/\s+/gu, ' ').trim();
}
