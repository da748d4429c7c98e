/** Printable ASCII without two spaces in a row. */
const PLAIN = /^(?:[\x21-\x7e]| (?! ))*$/;

/**
 * Make chat text safe and speakable: Unicode NFKC (folds lookalike and full-width forms),
 * control and invisible format characters removed, stacks of combining marks ("zalgo") cut to
 * two per letter, whitespace collapsed, and the result cut at a word boundary to `maxLength`.
 */
export function normaliseText(text: string, maxLength: number): { text: string; truncated: boolean } {
  let t = text.length > maxLength * 8 ? text.slice(0, maxLength * 8) : text; // bound the work on huge input
  // Most chat is printable ASCII with single spaces: nothing for NFKC, controls or marks to do.
  if (!PLAIN.test(t)) {
    t = t.normalize('NFKC');
    t = t.replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu, ' ');
    t = t.replace(/(\p{M}{2})\p{M}+/gu, '$1');
    t = t.replace(/\s+/gu, ' ');
  }
  t = t.trim();
  const truncated = t.length > maxLength || text.length > maxLength * 8;
  if (t.length > maxLength) {
    const cut = t.slice(0, maxLength);
    const space = cut.lastIndexOf(' ');
    t = (space > maxLength * 0.6 ? cut.slice(0, space) : cut).trim();
  }
  return { text: t, truncated };
}

/**
 * Remove the emote codes of a message (Twitch sends their positions in the raw text): spoken,
 * "Kappa PogChamp" is noise. Whole words only, after normalisation.
 */
export function stripEmotes(text: string, raw: string, emotes: readonly { start: number; end: number }[]): string {
  if (!emotes.length) return text;
  const chars = [...raw];
  const codes = new Set(emotes.map((e) => chars.slice(e.start, e.end + 1).join('')).filter(Boolean));
  return text.split(' ').filter((w) => !codes.has(w)).join(' ');
}

/** Split a command line into words, honouring "double" and 'single' quotes. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}
