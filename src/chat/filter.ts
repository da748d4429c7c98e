import type { Config } from '../config/schema';
import type { ChatEvent } from '../../queues/chat-event.schema';

type FilterConfig = Config['chat']['filter'];
export type FilterCheck = FilterConfig['bypass'][keyof FilterConfig['bypass']] extends (infer C)[] | undefined ? C : never;

const URL_RE = /\b(?:https?:\/\/|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|tv|gg|me|ly|co|xyz|app|dev|link|info|ru|de|uk|jp)\b(?:\/\S*)?/giu;

const NO_BYPASS: ReadonlySet<FilterCheck> = new Set();

/** The filter checks this user skips, from the union of their roles' bypass lists. */
export function bypassed(e: ChatEvent, filter: FilterConfig): ReadonlySet<FilterCheck> {
  if (!e.user.roles.length) return NO_BYPASS; // most chatters: no set to build
  const out = new Set<FilterCheck>();
  for (const role of e.user.roles) for (const check of filter.bypass[role] ?? []) out.add(check);
  return out;
}

type Checked = { ok: true; text: string } | { ok: false; reason: string };

/** Each banned word or phrase as the filter looks for it (" word ", lower case), made once per config list, not per message. */
const patternsOf = new WeakMap<readonly string[], string[]>();
function bannedPatterns(words: readonly string[]): string[] {
  let patterns = patternsOf.get(words);
  if (!patterns) {
    patterns = words.map((w) => ` ${w.toLowerCase()} `);
    patternsOf.set(words, patterns);
  }
  return patterns;
}

/**
 * What applies to every text that airs or shows, paid or not: banned words (whole words,
 * case-insensitive) and links (stripped, or the text refused, per `links`). Returns the text to
 * continue with or the reason it may not air. Give it text already stripped of engine markup,
 * so it checks what an engine would say.
 */
export function contentFilter(text: string, filter: FilterConfig, skip: ReadonlySet<FilterCheck>): Checked {
  let t = text;
  if (!skip.has('bannedWords') && filter.bannedWords.length) {
    const lower = ` ${t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ')} `;
    if (bannedPatterns(filter.bannedWords).some((w) => lower.includes(w))) return { ok: false, reason: 'banned word' };
  }
  // Every link has a dot: most chat has none, and skips the costly pattern.
  if (!skip.has('links') && filter.links !== 'allow' && t.includes('.') && URL_RE.test(t)) {
    URL_RE.lastIndex = 0;
    if (filter.links === 'block') return { ok: false, reason: 'link' };
    t = t.replace(URL_RE, ' ').replace(/\s+/g, ' ').trim();
    if (!t) return { ok: false, reason: 'only links' };
  }
  URL_RE.lastIndex = 0;
  return { ok: true, text: t };
}

/**
 * The checks of a plain message that need no Redis: the content filter, then caps, symbols and
 * emote flood. Returns the text to continue with (links stripped when so configured) or the
 * reason to reject.
 */
export function localFilter(text: string, e: ChatEvent, filter: FilterConfig, skip: ReadonlySet<FilterCheck>): Checked {
  const content = contentFilter(text, filter, skip);
  if (!content.ok) return content;
  const t = content.text;
  if (!skip.has('emotes') && e.emotes.length > filter.maxEmotes) return { ok: false, reason: 'emote flood' };
  const { letters, upper, symbols, visible } = charClasses(t);
  if (!skip.has('caps') && letters >= 12 && upper / letters > filter.maxCapsRatio) return { ok: false, reason: 'caps flood' };
  if (!skip.has('symbols') && t.length >= 8 && symbols / visible > filter.maxSymbolRatio) return { ok: false, reason: 'symbol flood' };
  return { ok: true, text: t };
}

const LETTER = /\p{L}/u;
const UPPER = /\p{Lu}/u;
const NUMBER = /\p{N}/u;

/** Count letters, capitals, symbols and non-space characters in one pass (ASCII fast path). */
function charClasses(t: string) {
  let letters = 0;
  let upper = 0;
  let symbols = 0;
  let visible = 0;
  for (const ch of t) {
    const c = ch.charCodeAt(0);
    if (c === 32 || c === 9) continue;
    visible++;
    if (c < 128) {
      if (c >= 97 && c <= 122) letters++;
      else if (c >= 65 && c <= 90) {
        letters++;
        upper++;
      }
      else if (!(c >= 48 && c <= 57)) symbols++;
    } else if (LETTER.test(ch)) {
      letters++;
      if (UPPER.test(ch)) upper++;
    } else if (!NUMBER.test(ch) && !/\s/u.test(ch)) symbols++;
  }
  return { letters, upper, symbols, visible: Math.max(1, visible) };
}
