import type { Payload } from '../../queues/registry';

/** A scene job: what a channel's picture should become. */
export type SceneChange = Payload<'scene'>;

/**
 * The desired picture of a channel as kept in Redis (hash `keys.scene(channel)`): `scene`,
 * `source.<name>` = 1/0, `text.<input>`, `filter.<json [source, filter]>` = 1/0, `streaming` = 1/0.
 * Re-applied whole after OBS reconnects, so the picture continues where it was.
 */
export interface DesiredState {
  scene?: string;
  sources: Record<string, boolean>;
  texts: Record<string, string>;
  filters: { source: string; filter: string; enabled: boolean }[];
  streaming?: boolean;
}

const filterField = (source: string, filter: string) => `filter.${JSON.stringify([source, filter])}`;

/** The hash fields a change sets (media restarts are actions, not state: none). */
export function stateFields(c: SceneChange): Record<string, string> {
  const fields: Record<string, string> = {};
  if (c.scene !== undefined) fields.scene = c.scene;
  for (const [source, visible] of Object.entries(c.sources ?? {})) fields[`source.${source}`] = visible ? '1' : '0';
  for (const [input, text] of Object.entries(c.texts ?? {})) fields[`text.${input}`] = text;
  for (const f of c.filters ?? []) fields[filterField(f.source, f.filter)] = f.enabled ? '1' : '0';
  if (c.streaming !== undefined) fields.streaming = c.streaming ? '1' : '0';
  return fields;
}

/** Read the hash back; unknown or malformed fields are ignored. */
export function parseState(hash: Record<string, string>): DesiredState {
  const state: DesiredState = { sources: {}, texts: {}, filters: [] };
  for (const [field, value] of Object.entries(hash)) {
    if (field === 'scene') state.scene = value;
    else if (field === 'streaming') state.streaming = value === '1';
    else if (field.startsWith('source.')) state.sources[field.slice(7)] = value === '1';
    else if (field.startsWith('text.')) state.texts[field.slice(5)] = value;
    else if (field.startsWith('filter.')) {
      try {
        const [source, filter] = JSON.parse(field.slice(7)) as [unknown, unknown];
        if (typeof source === 'string' && typeof filter === 'string') state.filters.push({ source, filter, enabled: value === '1' });
      } catch {
        // not ours
      }
    }
  }
  return state;
}
