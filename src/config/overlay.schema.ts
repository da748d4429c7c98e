import { z } from 'zod';
import { colour, durationMs } from './fields';

const corner = z.enum(['top-left', 'top-right', 'bottom-left', 'bottom-right']);

/** The built-in overlay page (/overlay) for an OBS browser source: 1920×1080, transparent. */
export const overlaySchema = z
  .strictObject({
    /** CSS font-family of captions, banners and the scene name. */
    font: z.string().regex(/^[A-Za-z0-9 ,'"_-]{1,200}$/, 'a CSS font-family list').default("'Noto Sans', 'DejaVu Sans', sans-serif"),
    /** Caption text size (px on the 1920×1080 page); banners and labels scale from it. */
    fontSizePx: z.number().int().min(12).max(200).default(48),
    /** Colour of the text. */
    textColour: colour.default('#ffffff'),
    /** Colour of banner edges and user names. */
    accentColour: colour.default('#ff5fa2'),
    /** Colour of the panels behind text… */
    panelColour: colour.default('#1d1b2e'),
    /** …and how opaque they are (0: no panel). */
    panelOpacity: z.number().min(0).max(1).default(0.78),
    /** Captions along the bottom or the top edge. */
    captionPosition: z.enum(['bottom', 'top']).default('bottom'),
    /** Corner of event banners (follow, sub, raid, gift). */
    bannerPosition: corner.default('top-right'),
    /** Corner of the current scene name. */
    scenePosition: corner.default('top-left'),
    /** Show the current scene name. */
    showSceneName: z.boolean().default(true),
    /** Show highlighted chat (paid messages, Super Chats) beside the captions. */
    showHighlights: z.boolean().default(true),
    /** How long one banner stays up (banners queue: two never overlap). */
    bannerMs: durationMs(4000),
    /** How long a highlighted message stays up. */
    highlightMs: durationMs(8000),
    /** A caption whose line never reports its end is taken down after this. */
    captionMaxMs: durationMs(30000),
    /**
     * The idol's avatar on the overlay, for streamers who composite in OBS: the channel's pack,
     * its mouth from the speech on air, its expression, blinking and breathing in the page. Off by
     * default: the shipped picture already draws her, and an overlay over that picture would show two.
     */
    avatar: z
      .strictObject({
        enabled: z.boolean().default(false),
        corner: corner.default('bottom-right'),
        /** Her height on the 1920×1080 page (the pack's canvas is scaled to it). */
        heightPx: z.number().int().min(100).max(1080).default(720),
        /** Mouth and expression updates at most this often (only changes are sent, and a refresh every 2 s). */
        maxUpdatesPerSecond: z.number().int().min(5).max(60).default(20),
      })
      .prefault({}),
  })
  .prefault({});
