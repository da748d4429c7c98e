import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths';
import { configSchema, type Config } from './schema';

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

/** Environment variables override addresses and secrets; they never live in the YAML file. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const section = (name: string): Record<string, unknown> => {
    const v = raw[name];
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    const fresh: Record<string, unknown> = {};
    raw[name] = fresh;
    return fresh;
  };
  if (env.REDIS_URL) section('redis').url = env.REDIS_URL;
  if (env.REDIS_PREFIX) section('redis').prefix = env.REDIS_PREFIX;
  if (env.HOST) section('control').host = env.HOST;
  if (env.PORT) {
    const port = Number(env.PORT);
    section('control').port = Number.isInteger(port) ? port : env.PORT;
  }
  if (env.ADMIN_TOKEN) section('control').adminToken = env.ADMIN_TOKEN;
  if (env.LOG_LEVEL) section('log').level = env.LOG_LEVEL;
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
  return parsed.data;
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
