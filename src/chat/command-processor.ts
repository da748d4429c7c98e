import type { Payload } from '../../queues/registry';
import type { Config } from '../config/schema';
import type { ChatEvent } from './chat-event';
import { normaliseText, splitArgs } from './normalise';

/** What the command processor decided for one chat event, and the jobs that follow from it. */
export interface ChatDecision {
  decision: 'speak' | 'ignored';
  /** Why: the command that ran, or why nothing happens. */
  reason: string;
  truncated: boolean;
  tts: Payload<'tts'>[];
}

/** A BullMQ-safe utterance id derived from the platform message id (so a retry collapses). */
export function utteranceIdFor(e: ChatEvent): string {
  return `${e.platform}-${e.id}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 128);
}

/**
 * Turn one chat event into jobs: a plain message is spoken (when the config says so), `!say`
 * speaks its argument, unknown commands are ignored quietly. Pure: the ingest enqueues.
 */
export function processChat(e: ChatEvent, config: Config): ChatDecision {
  const { text, truncated } = normaliseText(e.text, config.chat.maxLength);
  const none = (reason: string): ChatDecision => ({ decision: 'ignored', reason, truncated, tts: [] });
  if (e.kind !== 'message') return none(`no reaction configured for ${e.kind}`);
  if (!text) return none('empty after normalisation');

  const channel = e.channel in config.channels ? e.channel : config.defaultChannel;
  const speak = (words: string, priority: number, reason: string): ChatDecision => ({
    decision: 'speak',
    reason,
    truncated,
    tts: [
      {
        utteranceId: utteranceIdFor(e),
        channel,
        text: words,
        voice: config.defaultVoice,
        priority,
        acceptedAt: e.acceptedAt,
        origin: { platform: e.platform, user: e.user.displayName },
      },
    ],
  });

  const prefix = config.chat.commandPrefix;
  if (text.startsWith(prefix)) {
    const [name = '', ...rest] = splitArgs(text.slice(prefix.length));
    const command = name.toLowerCase();
    if (command === 'say') {
      const words = text.slice(prefix.length + name.length).trim();
      return words ? speak(words, config.chat.sayPriority, 'command say') : none('say without text');
    }
    void rest;
    return none(`unknown command ${command.slice(0, 32)}`);
  }
  if (!config.chat.speakPlainMessages) return none('plain messages are not spoken');
  return speak(text, config.chat.plainPriority, 'plain message');
}
