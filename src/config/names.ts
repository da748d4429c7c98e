/**
 * Lookups of names that come from outside (chat, the API, the CLI, queue payloads) in the
 * config's maps. Own keys only: `constructor`, `__proto__`, `toString`… are keys of every plain
 * object through its prototype, and `name in map` or `map[name]` would take them for configured
 * names (a channel `constructor` got a playout queue nothing consumes).
 */
export function isConfigured(map: object, name: string): boolean {
  return Object.hasOwn(map, name);
}

/** The entry configured under `name`, or undefined when there is none of that name. */
export function configured<T>(map: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(map, name) ? map[name] : undefined;
}

/** Refuses a channel that is not configured, before any key is made from it (a caller's bug, not input). */
export function requireChannel(config: { channels: object }, channel: string): void {
  if (!Object.hasOwn(config.channels, channel)) throw new Error(`no channel named "${channel}"`);
}
