import type { VtsAction } from '../config/vtubestudio.schema';
import { VtsApiError, type VtsSession } from './vts-session';

/** What one of our expressions does in the loaded model. */
export interface VtsMove {
  /** An expression file kept active while the expression shows (deactivated when another one does). */
  file?: string;
  /** A hotkey (not an expression toggle) triggered once when the expression starts. */
  hotkeyID?: string;
}

interface Hotkey {
  name?: unknown;
  type?: unknown;
  file?: unknown;
  hotkeyID?: unknown;
}

/**
 * Our expressions as moves in the model VTS has loaded. A hotkey named in the config is looked up
 * by name (case-insensitive, as VTS does) or id; one that toggles an expression becomes that
 * expression's file, so showing it is idempotent (re-applied after a reconnect without toggling it
 * off). What the model lacks is a problem to report, not a failure.
 */
export async function resolveMoves(s: VtsSession, mapping: Record<string, VtsAction>): Promise<{ moves: Map<string, VtsMove>; problems: string[] }> {
  const moves = new Map<string, VtsMove>();
  const problems: string[] = [];
  const entries = Object.entries(mapping);
  if (!entries.length) return { moves, problems };
  const hotkeys = entries.some(([, a]) => 'hotkey' in a) ? await listHotkeys(s) : [];
  const files = new Set(await expressionStates(s).then((e) => [...e.keys()]));
  for (const [name, action] of entries) {
    if ('expression' in action) {
      if (files.has(action.expression)) moves.set(name, { file: action.expression });
      else problems.push(`${name}: the model has no expression file "${action.expression}"`);
      continue;
    }
    const wanted = action.hotkey.toLowerCase();
    const hk = hotkeys.find((h) => String(h.name).toLowerCase() === wanted) ?? hotkeys.find((h) => h.hotkeyID === action.hotkey);
    if (!hk) problems.push(`${name}: the model has no hotkey "${action.hotkey}"`);
    else if (hk.type === 'ToggleExpression' && typeof hk.file === 'string' && files.has(hk.file)) moves.set(name, { file: hk.file });
    else moves.set(name, { hotkeyID: String(hk.hotkeyID) });
  }
  return { moves, problems };
}

async function listHotkeys(s: VtsSession): Promise<Hotkey[]> {
  const res = await s.request('HotkeysInCurrentModelRequest');
  return Array.isArray(res.availableHotkeys) ? (res.availableHotkeys as Hotkey[]).filter((h) => h && typeof h === 'object') : [];
}

/** Every expression file of the loaded model and whether it is active now. */
async function expressionStates(s: VtsSession): Promise<Map<string, boolean>> {
  const res = await s.request('ExpressionStateRequest', { details: false });
  const list = Array.isArray(res.expressions) ? (res.expressions as { file?: unknown; active?: unknown }[]) : [];
  return new Map(list.filter((e) => e && typeof e.file === 'string').map((e) => [e.file as string, e.active === true]));
}

/**
 * Make the model show `expression`: every other mapped expression file off, its own on (an
 * unmapped expression, neutral included unless mapped, shows the model's own face), and its
 * hotkey triggered when `trigger` (the expression just started, not a re-apply). VTS refusing one
 * request is a problem in the list; a lost connection throws.
 */
export async function showMove(s: VtsSession, moves: Map<string, VtsMove>, expression: string, fadeSeconds: number, trigger: boolean): Promise<string[]> {
  const problems: string[] = [];
  const tolerant = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof VtsApiError)) throw err;
      problems.push(err.message);
    }
  };
  const target = moves.get(expression);
  const mappedFiles = new Set([...moves.values()].flatMap((m) => (m.file ? [m.file] : [])));
  if (mappedFiles.size) {
    const active = await expressionStates(s);
    for (const file of mappedFiles) {
      if (file !== target?.file && active.get(file)) await tolerant(() => s.request('ExpressionActivationRequest', { expressionFile: file, active: false }));
    }
    if (target?.file && !active.get(target.file)) await tolerant(() => s.request('ExpressionActivationRequest', { expressionFile: target.file, fadeTime: fadeSeconds, active: true }));
  }
  if (trigger && target?.hotkeyID) await tolerant(() => s.request('HotkeyTriggerRequest', { hotkeyID: target.hotkeyID }));
  return problems;
}
