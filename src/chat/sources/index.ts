import type { ProcessContext } from '../../process';
import type { ChatSource } from '../chat-source';
import { TwitchSource } from './twitch.source';

/** The chat sources the config enables (the local web chat arrives through the chat queue). */
export function createSources(ctx: ProcessContext): ChatSource[] {
  const { config, log, metrics } = ctx;
  const target = (channel?: string) => channel ?? config.defaultChannel;
  const sources: ChatSource[] = [];
  const twitch = config.chat.twitch;
  if (twitch.enabled) sources.push(new TwitchSource({ config: twitch, channel: target(twitch.channel), log: log.child({ source: 'twitch' }), metrics }));
  return sources;
}
