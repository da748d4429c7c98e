import type { Payload } from '../../queues/registry';
import { BUILTIN_COMMANDS, PERMISSIONS, type Config, type Permission } from '../config/schema';
import type { ChatEvent, Role } from '../../queues/chat-event.schema';
import { avatarExpressions } from '../avatar/expressions';
import { normaliseText, splitArgs } from './normalise';

type BuiltinName = (typeof BUILTIN_COMMANDS)[number];
type CustomCommand = Config['chat']['commands'][number];

/** A command as the processor knows it: built-in or from the config, with its rules. */
export interface CommandDef {
  name: string;
  builtin?: BuiltinName;
  custom?: CustomCommand;
  permission: Permission;
  cooldown: { globalMs: number; userMs: number };
  help: string;
}

/** What running a command does, once its permission and cooldowns have passed. */
export interface CommandEffects {
  tts: { payload: Payload<'tts'>; delay?: number }[];
  scenes: { payload: Payload<'scene'>; delay?: number }[];
  replies: string[];
  control?: 'skip' | 'clear';
  setVoice?: string;
  /** `!ai on|off`: the AI kill switch. */
  ai?: boolean;
  /** `!dump`: drop the AI lines in the broadcast delay and cut the AI line on air. */
  dump?: boolean;
  /** `!forgetme`: the AI forgets the user (in every channel). */
  forget?: boolean;
  /** `!ask <text>`: the question goes to the AI (offered after the batch). */
  ask?: boolean;
  /** The avatar expression to show (one the channel's pack offers). */
  emote?: string;
}

const BUILTIN_DEFAULTS: Record<BuiltinName, { permission: Permission; globalMs: number; userMs: number; help: string }> = {
  say: { permission: 'everyone', globalMs: 0, userMs: 0, help: '!say <text>: the idol says it' },
  voice: { permission: 'everyone', globalMs: 0, userMs: 0, help: '!voice <name> [text]: say text in a voice; moderators: switch the voice' },
  scene: { permission: 'moderator', globalMs: 0, userMs: 0, help: '!scene <name>: switch scene' },
  commands: { permission: 'everyone', globalMs: 10000, userMs: 0, help: '!commands: list commands' },
  queue: { permission: 'everyone', globalMs: 5000, userMs: 0, help: '!queue: how many lines are waiting' },
  skip: { permission: 'moderator', globalMs: 0, userMs: 0, help: '!skip: cut the current line' },
  clear: { permission: 'moderator', globalMs: 0, userMs: 0, help: '!clear: drop every waiting line' },
  ask: { permission: 'everyone', globalMs: 0, userMs: 0, help: '!ask <question>: ask the idol' },
  ai: { permission: 'moderator', globalMs: 0, userMs: 0, help: '!ai on|off: turn AI replies on or off' },
  dump: { permission: 'moderator', globalMs: 0, userMs: 0, help: '!dump: drop the AI lines waiting in the broadcast delay and cut the one on air' },
  forgetme: { permission: 'everyone', globalMs: 0, userMs: 5000, help: '!forgetme: the idol forgets what it remembers about you' },
  emote: { permission: 'moderator', globalMs: 0, userMs: 0, help: '!emote <name>: the avatar shows an expression' },
};

const ROLE_RANK: Record<Role, number> = { broadcaster: 4, moderator: 3, vip: 2, subscriber: 1, member: 1 };

/** True when the user's highest role reaches the permission level. */
export function hasPermission(roles: readonly Role[], level: Permission): boolean {
  const rank = roles.reduce((best, r) => Math.max(best, ROLE_RANK[r]), 0);
  return rank >= PERMISSIONS.indexOf(level);
}

/** Every command by name and alias, built once from the config. */
export function commandTable(config: Config): Map<string, CommandDef> {
  const table = new Map<string, CommandDef>();
  for (const name of BUILTIN_COMMANDS) {
    const d = BUILTIN_DEFAULTS[name];
    const o = config.chat.builtins[name];
    if (o && !o.enabled) continue;
    table.set(name, { name, builtin: name, permission: o?.permission ?? d.permission, cooldown: o?.cooldown ?? { globalMs: d.globalMs, userMs: d.userMs }, help: d.help });
  }
  for (const c of config.chat.commands) {
    const def: CommandDef = { name: c.name, custom: c, permission: c.permission, cooldown: c.cooldown, help: c.help || `!${c.name}` };
    for (const n of [c.name, ...c.aliases]) table.set(n, def);
  }
  return table;
}

/** Split `!name args…` into the command word and the rest; undefined for plain messages. */
export function parseCommand(text: string, prefix: string): { word: string; rest: string; args: string[] } | undefined {
  if (!text.startsWith(prefix)) return undefined;
  const body = text.slice(prefix.length);
  const word = (body.match(/^\S+/)?.[0] ?? '').toLowerCase();
  if (!word) return undefined;
  const rest = body.slice(word.length).trim();
  return { word, rest, args: splitArgs(rest) };
}

/** Fill {user}, {args}, {arg1}… in a template. Values are plain text: they are spoken or posted, never interpreted. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z0-9]+)\}/gi, (m, key: string) => (Object.hasOwn(values, key) ? values[key]! : m));
}

/** Shared facts a command may need, read once per batch. */
export interface CommandEnv {
  config: Config;
  channel: string;
  voice: string;
  backlog: number;
  utteranceId: (suffix: string) => string;
}

/** The effects of a command that passed its checks. */
export function runCommand(def: CommandDef, cmd: { rest: string; args: string[] }, e: ChatEvent, env: CommandEnv): CommandEffects {
  const { config, channel } = env;
  const fx: CommandEffects = { tts: [], scenes: [], replies: [] };
  const user = e.user.displayName;
  const say = (text: string, voice: string, priority: number, suffix: string, delay?: number) => {
    const clean = normaliseText(text, config.tts.maxTextLength).text;
    if (clean) fx.tts.push({ payload: { utteranceId: env.utteranceId(suffix), channel, text: clean, voice, priority, acceptedAt: e.acceptedAt, origin: { platform: e.platform, user } }, delay });
  };
  switch (def.builtin) {
    case 'say':
      if (cmd.rest) say(cmd.rest, env.voice, config.chat.sayPriority, 'say');
      else fx.replies.push(`@${user} usage: !say <text>`);
      break;
    case 'voice': {
      const [name = '', ...words] = cmd.args;
      const voice = Object.keys(config.voices).find((v) => v.toLowerCase() === name.toLowerCase());
      if (!voice) fx.replies.push(`@${user} voices: ${Object.keys(config.voices).join(', ')}`);
      else if (words.length) say(cmd.rest.slice(cmd.rest.indexOf(name) + name.length), voice, config.chat.sayPriority, 'voice');
      else if (hasPermission(e.user.roles, 'moderator')) {
        fx.setVoice = voice;
        fx.replies.push(`voice is now ${voice}`);
      } else fx.replies.push(`@${user} only moderators can switch the voice; try !voice ${voice} <text>`);
      break;
    }
    case 'scene':
      if (cmd.rest) fx.scenes.push({ payload: { channel, scene: cmd.rest.slice(0, 100) } });
      break;
    case 'commands': {
      const names = [...new Set([...commandTable(config).values()].filter((c) => hasPermission(e.user.roles, c.permission)).map((c) => `!${c.name}`))];
      fx.replies.push(`commands: ${names.join(' ')}`);
      break;
    }
    case 'queue':
      fx.replies.push(`${env.backlog} line${env.backlog === 1 ? '' : 's'} waiting`);
      break;
    case 'skip':
      fx.control = 'skip';
      break;
    case 'clear':
      fx.control = 'clear';
      fx.replies.push('speech queue cleared');
      break;
    case 'ask':
      if (!cmd.rest) fx.replies.push(`@${user} usage: !ask <question>`);
      else fx.ask = true;
      break;
    case 'ai':
      if (cmd.args[0] === 'on' || cmd.args[0] === 'off') fx.ai = cmd.args[0] === 'on';
      else fx.replies.push(`@${user} usage: !ai on|off`);
      break;
    case 'dump':
      fx.dump = true;
      break;
    case 'forgetme':
      fx.forget = true;
      break;
    case 'emote': {
      const offered = avatarExpressions(config.channels[channel]?.video.avatar, config.overlay.avatar.enabled);
      const name = cmd.args[0]?.toLowerCase() ?? '';
      if (offered.includes(name)) fx.emote = name;
      else fx.replies.push(offered.length ? `@${user} expressions: ${offered.join(', ')}` : `@${user} this channel has no avatar`);
      break;
    }
    default: {
      const c = def.custom!;
      const values: Record<string, string> = { user, args: cmd.rest, ...Object.fromEntries(cmd.args.map((a, i) => [`arg${i + 1}`, a])) };
      c.actions.forEach((a, i) => {
        if ('say' in a) say(fillTemplate(a.say, values), a.voice ?? env.voice, a.priority ?? config.chat.sayPriority, `${c.name}-${i}`, a.atMs);
        else fx.scenes.push({ payload: { channel, scene: a.scene }, delay: a.atMs });
      });
      if (c.reply) fx.replies.push(fillTemplate(c.reply, values));
    }
  }
  return fx;
}
