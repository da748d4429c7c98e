import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths';
import { applyAiEnv } from './ai.schema';
import { configSchema, type Config, type ResolvedEnv } from './schema';

/** The built-in configuration shipped with idolcast (the embedded default). */
export const DEFAULT_CONFIG_PATH = path.join(PROJECT_ROOT, 'src', 'config', 'default.yaml');

/** A configuration that cannot be used; `problems` name each bad field by its path. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Environment variables that override addresses and secrets, and the setting each one sets. */
const ENV_OVERRIDES: [variable: string, path: string[], type?: 'number' | 'list'][] = [
  ['REDIS_URL', ['redis', 'url']],
  ['REDIS_PREFIX', ['redis', 'prefix']],
  ['REDIS_SENTINELS', ['redis', 'sentinels'], 'list'],
  ['REDIS_SENTINEL_NAME', ['redis', 'sentinelName']],
  ['REDIS_SENTINEL_PASSWORD', ['redis', 'sentinelPassword']],
  ['REDIS_CLUSTER_NODES', ['redis', 'cluster', 'nodes'], 'list'],
  ['HOST', ['control', 'host']],
  ['PORT', ['control', 'port'], 'number'],
  ['ADMIN_TOKEN', ['control', 'adminToken']],
  ['OVERLAY_TOKEN', ['control', 'overlayToken']],
  ['ALLOWED_HOSTS', ['control', 'allowedHosts'], 'list'],
  ['LOG_LEVEL', ['log', 'level']],
  ['TWITCH_IRC_URL', ['chat', 'twitch', 'server']],
  ['TWITCH_OAUTH_TOKEN', ['chat', 'twitch', 'oauthToken']],
  ['YOUTUBE_API_URL', ['chat', 'youtube', 'baseUrl']],
  ['YOUTUBE_GRPC_URL', ['chat', 'youtube', 'grpcUrl']],
  ['YOUTUBE_API_KEY', ['chat', 'youtube', 'apiKey']],
  ['TIKTOK_SIGN_API_KEY', ['chat', 'tiktok', 'signApiKey']],
  ['OBS_URL', ['obs', 'url']],
  ['OBS_PASSWORD', ['obs', 'password']],
];

/** Secrets and addresses come from the environment; they never need to live in the YAML file. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [variable, path, type] of ENV_OVERRIDES) {
    const value = env[variable];
    if (!value) continue;
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = next && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : (node[key] = {});
    }
    // A non-numeric PORT stays a string so the schema reports it against its path.
    node[path[path.length - 1]!] =
      type === 'number' && /^\d+$/.test(value) ? Number(value) : type === 'list' ? value.split(',').map((v) => v.trim()).filter(Boolean) : value;
  }
}

/** Keys and addresses of remote TTS engines come from the environment by engine kind. */
function applyEngineEnv(config: Config, env: NodeJS.ProcessEnv, file: string): void {
  for (const [name, engine] of Object.entries(config.tts.engines)) {
    if (engine.kind === 'openai') {
      engine.apiKey ||= env.OPENAI_API_KEY ?? '';
      if (env.OPENAI_BASE_URL) engine.baseUrl = env.OPENAI_BASE_URL;
    } else if (engine.kind === 'elevenlabs') {
      engine.apiKey ||= env.ELEVENLABS_API_KEY ?? '';
      if (env.ELEVENLABS_BASE_URL) engine.baseUrl = env.ELEVENLABS_BASE_URL;
    } else {
      engine.apiKey ||= env.AZURE_SPEECH_KEY ?? '';
      engine.region ||= env.AZURE_SPEECH_REGION ?? '';
      if (env.AZURE_SPEECH_URL) engine.baseUrl = env.AZURE_SPEECH_URL;
      engine.baseUrl ||= engine.region ? `https://${engine.region}.tts.speech.microsoft.com` : '';
      if (!engine.baseUrl) throw new ConfigError(file, [`tts.engines.${name}.region: set region (or AZURE_SPEECH_REGION, or baseUrl / AZURE_SPEECH_URL)`]);
    }
  }
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  return `${where}: ${issue.message}`;
}

/** Parse and validate a configuration text; throws ConfigError listing every bad field. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = {}): Config {
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, ['(top level): expected a mapping of settings']);
  }
  applyEnv(raw as Record<string, unknown>, env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.map(formatIssue));
  const config: Config = parsed.data;
  applyEngineEnv(config, env, file);
  applyAiEnv(config.ai, env);
  config.resolved = resolveEnv(config, env);
  return config;
}

/** What the processes would otherwise read from the environment deep inside: read once, here. */
function resolveEnv(config: Config, env: NodeJS.ProcessEnv): ResolvedEnv {
  const streamKeys: Record<string, string> = {};
  for (const channel of Object.values(config.channels)) {
    for (const d of Object.values(channel.destinations)) {
      const key = d.keyEnv ? env[d.keyEnv] : undefined;
      if (d.keyEnv && key) streamKeys[d.keyEnv] = key;
    }
  }
  return { faultInjection: env.IDOLCAST_FAULT_INJECTION === '1', streamKeys };
}

/**
 * Take the stream keys out of the environment once the config holds them, so the processes the
 * broadcaster starts (ffmpeg encoder, relays, probes) do not inherit them. Only the broadcaster
 * does this: the supervisor passes its environment on to the broadcasters it starts.
 */
export function forgetStreamKeys(config: Config, env: NodeJS.ProcessEnv = process.env): void {
  for (const variable of Object.keys(config.resolved?.streamKeys ?? {})) delete env[variable];
}

/** Load the configuration named by IDOLCAST_CONFIG, or the built-in default. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env.IDOLCAST_CONFIG ? path.resolve(env.IDOLCAST_CONFIG) : DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseConfig(text, file, env);
}
