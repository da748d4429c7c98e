import type { Config } from '../config/schema';
import type { ChatEvent } from './chat-event';

type FilterConfig = Config['chat']['filter'];
export type FilterCheck = FilterConfig['bypass'][keyof FilterConfig['bypass']] extends (infer C)[] | undefined ? C : never;

const URL_RE = /\b(?:https?:\/\/|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|tv|gg|me|ly|co|xyz|app|dev|link|info|ru|de|uk|jp)\b(?:\/\S*)?/giu;

/** The filter checks this user skips, from the union of their roles' bypass lists. */
export function bypassed(e: ChatEvent, filter: FilterConfig): Set<FilterCheck> {
  const out = new Set<FilterCheck>();
  for (const role of e.user.roles) for (const check of filter.bypass[role] ?? []) out.add(check);
  return out;
}

/**
 * The checks that need no Redis: links, caps, symbols, emote flood, banned words. Returns the
 * text to continue with (links stripped when so configured) or the reason to reject.
 */
export function localFilter(text: string, e: ChatEvent, filter: FilterConfig, skip: Set<FilterCheck>): { ok: true; text: string } | { ok: false; reason: string } {
  let t = text;
  if (!skip.has('bannedWords') && filter.bannedWords.length) {
    const lower = ` ${t.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ')} `;
    if (filter.bannedWords.some((w) => lower.includes(` ${w.toLowerCase()} `))) return { ok: false, reason: 'banned word' };
  }
  if (!skip.has('links') && filter.links !== 'allow' && URL_RE.test(t)) {
    URL_RE.lastIndex = 0;
    if (filter.links === 'block') return { ok: false, reason: 'link' };
    t = t.replace(URL_RE, ' ').replace(/\s+/g, ' ').trim();
    if (!t) return { ok: false, reason: 'only links' };
  }
  URL_RE.lastIndex = 0;
  if (!skip.has('emotes') && e.emotes.length > filter.maxEmotes) return { ok: false, reason: 'emote flood' };
  const letters = t.match(/\p{L}/gu)?.length ?? 0;
  if (!skip.has('caps') && letters >= 12) {
    const upper = t.match(/\p{Lu}/gu)?.length ?? 0;
    if (upper / letters > filter.maxCapsRatio) return { ok: false, reason: 'caps flood' };
  }
  if (!skip.has('symbols') && t.length >= 8) {
    const symbols = t.match(/[^\p{L}\p{N}\s]/gu)?.length ?? 0;
    if (symbols / t.replace(/\s/g, '').length > filter.maxSymbolRatio) return { ok: false, reason: 'symbol flood' };
  }
  return { ok: true, text: t };
}
