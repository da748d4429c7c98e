import { z } from 'zod';
import { durationMs } from './fields';

/** What one of our expressions does in VTube Studio: a hotkey of the model (by name) or an expression file. */
const vtsAction = z.union([
  z.strictObject({ hotkey: z.string().min(1).max(64) }),
  z.strictObject({ expression: z.string().regex(/^[^/\\]{1,120}\.exp3\.json$/, 'an expression file of the model, like Smile.exp3.json') }),
]);
export type VtsAction = z.infer<typeof vtsAction>;

/**
 * VTube Studio, for a streamer with a Live2D model: the active broadcaster of the channel drives
 * it over its public plugin API (WebSocket). The mouth parameter follows the speech on air; the
 * channel's expression (set by !emote, scene jobs, AI replies) becomes a hotkey or an expression.
 */
export const vtubeStudioSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** VTube Studio's plugin API address (VTS → Settings → "Start API"; its default port is 8001). */
    url: z.string().regex(/^wss?:\/\/[^\s]+$/, 'a ws:// or wss:// address').default('ws://127.0.0.1:8001'),
    /** Shown in VTS's "allow this plugin?" popup; the token it grants belongs to this name and developer. */
    pluginName: z.string().min(3).max(32).default('idolcast'),
    pluginDeveloper: z.string().min(3).max(32).default('idolcast'),
    /** The parameter the mouth opening (0 closed … 1 open) is injected into. */
    mouthParameter: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'a VTS parameter id like MouthOpen').default('MouthOpen'),
    /** Mouth values sent per second; VTS lets go of a parameter not re-sent within a second. */
    injectPerSecond: z.number().int().min(2).max(60).default(30),
    /**
     * When the mouth moves against the moment the encoder takes the speech (0: with it, as the
     * built-in avatar). Positive: later, for a sound viewers hear later than it is encoded;
     * negative: earlier (at most playout.leadMs), for a model whose picture reaches the stream late
     * (VTS captured by OBS and sent back to us as the channel's feed).
     */
    mouthOffsetMs: z.number().int().min(-2000).max(5000).default(0),
    /** `set` takes the parameter over (one plugin at a time); `add` adds to what tracking or another plugin sets. */
    mode: z.enum(['set', 'add']).default('set'),
    /** Tell VTS a face is found while we drive it, so it does not play its "tracking lost" animation. */
    faceFound: z.boolean().default(true),
    /**
     * Our expressions (neutral, happy, sad, angry, surprised, thinking and any the pack adds) → a
     * hotkey of the model or an expression file. An expression hotkey is shown as its expression
     * file (so it is set, not toggled); any other hotkey is triggered when the expression starts.
     */
    expressions: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, 'an expression name, lower case (as chat types it)'), vtsAction).default({}),
    /** Fade-in of an expression file (VTS clamps it to 0–2 s). */
    fadeSeconds: z.number().min(0).max(2).default(0.25),
    /** Reconnect backoff after VTS drops or is not running: first delay… */
    reconnectBaseMs: durationMs(1000),
    /** …doubling up to this (each delay jittered). */
    reconnectCapMs: durationMs(30_000),
    /** After the user denied the plugin in VTS, ask again only this often (each ask is a popup in VTS). */
    deniedRetryMs: durationMs(300_000),
    /** How long the user has to answer VTS's "allow this plugin?" popup. */
    approvalWaitMs: durationMs(120_000),
    /** A request VTS has not answered within this counts as a hung connection: it is dropped and made again. */
    requestTimeoutMs: durationMs(5000),
  })
  .prefault({});
export type VtubeStudioConfig = z.infer<typeof vtubeStudioSchema>;
