import type { ProcessContext } from '../../process';
import type { ChatSource } from '../chat-source';
import { TikTokSource } from './tiktok.source';
import { TwitchSource } from './twitch.source';
import { YouTubeSource } from './youtube.source';

/** The chat sources the config enables (the local web chat arrives through the chat queue). */
export function createSources(ctx: ProcessContext): ChatSource[] {
  const { config, log, metrics, redis, keys } = ctx;
  const { twitch, youtube, tiktok } = config.chat;
  const target = (channel?: string) => channel ?? config.defaultChannel;
  const sources: ChatSource[] = [];
  if (twitch.enabled) sources.push(new TwitchSource({ config: twitch, channel: target(twitch.channel), log: log.child({ source: 'twitch' }), metrics }));
  if (youtube.enabled) sources.push(new YouTubeSource({ config: youtube, channel: target(youtube.channel), log: log.child({ source: 'youtube' }), metrics, redis, keys }));
  if (tiktok.enabled) sources.push(new TikTokSource({ config: tiktok, channel: target(tiktok.channel), log: log.child({ source: 'tiktok' }), metrics }));
  return sources;
}
