import { z } from 'zod';
import { durationMs } from './fields';

/** OBS Studio, driven over obs-websocket v5 by the scene worker (off by default: no OBS needed). */
export const obsSchema = z
  .strictObject({
    /** Drive OBS from scene jobs (the desired state is kept in Redis either way). */
    enabled: z.boolean().default(false),
    /** obs-websocket address (env OBS_URL); OBS's own default is ws://127.0.0.1:4455. */
    url: z.string().regex(/^wss?:\/\//, 'a ws:// or wss:// address').default('ws://127.0.0.1:4455'),
    /** obs-websocket password (env OBS_PASSWORD); empty when OBS has authentication off; never logged. */
    password: z.string().default(''),
    /** The idolcast channel whose scene jobs this OBS shows (default: defaultChannel). */
    channel: z.string().optional(),
    /** Least time between two program scene changes; an earlier change waits for it (the latest one wins). */
    minSceneDwellMs: durationMs(3000),
    /** Reconnect backoff after OBS drops or is not running: first delay… */
    reconnectBaseMs: durationMs(500),
    /** …doubling up to this (each delay jittered). */
    reconnectCapMs: durationMs(30000),
    /** After OBS rejects the password, try again only this often (a wrong password does not heal by itself). */
    authRetryMs: durationMs(60000),
    /** A request OBS has not answered within this fails. */
    requestTimeoutMs: durationMs(5000),
  })
  .prefault({});
