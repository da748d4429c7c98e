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
