import type { Config } from './schema';

/** Events that carry money, by the `chat.reactions` key that thanks them. */
const PAID_REACTIONS = {
  superchat: 'Super Chats and Super Stickers',
  paid: 'cheers (Twitch bits and other paid messages)',
  gift: 'gifted subs and memberships',
  subscription: 'subscriptions and memberships',
} as const;

/**
 * What a valid configuration does that its author probably did not mean: today, paid events
 * that nothing thanks (they are ignored, `no reaction configured`, however much was paid).
 */
export function configWarnings(config: Config): string[] {
  const reactions = config.chat.reactions;
  return (Object.keys(PAID_REACTIONS) as (keyof typeof PAID_REACTIONS)[])
    .filter((kind) => !reactions[kind])
    .map((kind) => `chat.reactions.${kind} is not set: ${PAID_REACTIONS[kind]} will be ignored, not spoken (remove the reactions section for the built-in thank-you lines, or add one)`);
}
