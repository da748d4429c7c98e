import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { delayDepth, dumpAi } from '../ai/delay';
import { AiSwitch } from '../ai/switch';
import type { Config } from '../config/schema';
import type { ProcessContext } from '../process';

/** The body of `POST /api/ai`. */
const switchSchema = z.strictObject({ on: z.boolean() });
/** The body of `POST /api/dump`: the channel, or the default one. */
const dumpSchema = z.strictObject({ channel: z.string().max(32).optional() });

/** Who acted from the control server, for the logs: the page's operator and where they connected from. */
const operatorOf = (req: Request) => `page:${(req.socket.remoteAddress ?? 'unknown').slice(0, 64)}`;

function badRequest(res: Response, problems: z.core.$ZodIssue[]): void {
  res.status(400).json({ error: 'bad request', problems: problems.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) });
}

/** The configured channel a request names (own keys only), the default when it names none. */
function channelOf(config: Config, asked: string | undefined): string | undefined {
  if (asked === undefined) return config.defaultChannel;
  return Object.hasOwn(config.channels, asked) ? asked : undefined;
}

/**
 * The AI controls of the live page (mounted with the rest of /api, so behind the same Host and
 * Origin checks and the admin token): `GET /api/ai` the kill switch's state and the broadcast
 * delay, `POST /api/ai {on}` the kill switch, `POST /api/dump {channel?}` a dump.
 */
export function mountAiApi(app: express.Express, ctx: ProcessContext): void {
  const { config, redis, log } = ctx;
  const aiSwitch = new AiSwitch({ config, redis, log });
  const json = express.json({ limit: '1kb' });

  app.get('/api/ai', async (req: Request, res: Response) => {
    const channel = channelOf(config, typeof req.query.channel === 'string' ? req.query.channel : undefined);
    if (channel === undefined) return void res.status(400).json({ error: 'unknown channel' });
    const [state, held] = await Promise.all([aiSwitch.state(), delayDepth(redis, config.redis.prefix, channel)]);
    res.json({ ...state, channel, delayMs: config.ai.safety.delayMs, held });
  });

  app.post('/api/ai', json, async (req: Request, res: Response) => {
    const body = switchSchema.safeParse(req.body);
    if (!body.success) return badRequest(res, body.error.issues);
    res.json(await aiSwitch.set(body.data.on, operatorOf(req)));
  });

  app.post('/api/dump', json, async (req: Request, res: Response) => {
    const body = dumpSchema.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, body.error.issues);
    const channel = channelOf(config, body.data.channel);
    if (channel === undefined) return void res.status(400).json({ error: 'unknown channel' });
    res.json({ channel, ...(await dumpAi(ctx, channel, operatorOf(req))) });
  });
}
