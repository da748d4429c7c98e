/**
 * Text limits applied in the tts worker to every line, whatever its source (chat, operator,
 * routine): combining marks that only stack ("zalgo") removed, and a length that fits the
 * longest a line may speak.
 */

/**
 * The generic combining blocks zalgo is built from (diacritical marks and their supplements,
 * marks for symbols, half marks). After NFC, ordinary accented letters are precomposed, so these
 * carry nothing an engine should read; engines that do read them spell out every mark.
 */
// One class per block: within one class, a block's last mark next to the next block's first reads as one
// combined character to a reader (and to no-misleading-character-class), though each is matched alone.
const GENERIC_MARKS = /[\u0300-\u036f]|[\u0483-\u0489]|[\u1ab0-\u1aff]|[\u1dc0-\u1dff]|[\u20d0-\u20ff]|[\ufe20-\ufe2f]/gu;

/**
 * Remove stacked combining marks. Script marks that spell sounds (Devanagari vowel signs, Thai
 * tone marks…) stay, at most three in a row, which no real word needs more of.
 */
export function withoutStackedMarks(text: string): string {
  return text.normalize('NFC').replace(GENERIC_MARKS, '').replace(/(\p{M}{3})\p{M}+/gu, '$1');
}

/**
 * Characters per second of speech, for the estimate that cuts text before synthesis (a typical
 * voice reads 14–17). The audio itself is cut at the limit too, so an estimate off for a slow
 * voice still cannot make a line longer.
 */
export const ESTIMATED_CHARS_PER_SECOND = 15;

/**
 * Cut text that would speak longer than `seconds` at the last sentence end that fits (or, with
 * none, the last word boundary). Returns the text unchanged when it fits.
 */
export function cutToSeconds(text: string, seconds: number): { text: string; cut: boolean } {
  const max = Math.max(1, Math.floor(seconds * ESTIMATED_CHARS_PER_SECOND));
  if (text.length <= max) return { text, cut: false };
  const window = text.slice(0, max + 1);
  // Latin sentence ends are followed by a space; CJK ones by the next sentence directly.
  const ends = [...window.matchAll(/[.!?…](?=\s|$)|[。！？]/gu)].map((m) => m.index + m[0].length);
  const sentence = ends.filter((i) => i <= max).pop();
  if (sentence !== undefined && sentence > max * 0.3) return { text: window.slice(0, sentence).trim(), cut: true };
  const space = window.lastIndexOf(' ', max);
  return { text: (space > max * 0.3 ? window.slice(0, space) : window.slice(0, max)).trim(), cut: true };
}
