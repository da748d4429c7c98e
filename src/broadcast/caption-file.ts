import fs from 'node:fs';
import nodePath from 'node:path';

/**
 * The caption drawn on the channel's picture. ffmpeg's drawtext reads it from this file on every
 * frame (`textfile` + `reload`, with `expansion=none`), so user text never becomes part of a
 * filter string and `%{`, quotes, colons and backslashes are just characters. The file is
 * replaced atomically (write, then rename) so a frame never sees half a caption.
 */
export class CaptionFile {
  private seq = 0;

  constructor(
    readonly path: string,
    private readonly lineChars = 42,
    private readonly maxLines = 3,
  ) {
    fs.mkdirSync(nodePath.dirname(this.path), { recursive: true });
  }

  set(text: string): void {
    const wrapped = wrapCaption(text, this.lineChars, this.maxLines);
    const tmp = `${this.path}.${process.pid}.${this.seq++}.tmp`;
    // drawtext refuses an empty file: a space draws nothing.
    fs.writeFileSync(tmp, wrapped || ' ');
    fs.renameSync(tmp, this.path);
  }

  clear(): void {
    this.set('');
  }
}

/** Break a caption into at most `maxLines` lines of about `width` characters (an ellipsis marks a cut). */
export function wrapCaption(text: string, width: number, maxLines: number): string {
  const words = text.replace(/[\p{Cc}\p{Cf}]/gu, ' ').split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    for (let w = word; w.length; ) {
      const room = line ? width - line.length - 1 : width;
      if (w.length <= room) {
        line = line ? `${line} ${w}` : w;
        w = '';
      } else if (!line) {
        lines.push(w.slice(0, width)); // a word longer than a line is split
        w = w.slice(width);
      } else {
        lines.push(line);
        line = '';
      }
    }
  }
  if (line) lines.push(line);
  if (lines.length <= maxLines) return lines.join('\n');
  const kept = lines.slice(0, maxLines);
  kept[maxLines - 1] = `${kept[maxLines - 1]!.slice(0, width - 1).trimEnd()}…`;
  return kept.join('\n');
}

/** Escape a file path for a drawtext option inside an ffmpeg filter graph (two levels of quoting). */
export function filterPath(p: string): string {
  return p.replace(/[\\':]/g, '\\$&').replace(/[\\'[\],;]/g, '\\$&');
}
