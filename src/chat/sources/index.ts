import type { ProcessContext } from '../../process';
import type { ChatSource } from '../chat-source';

/** The chat sources the config enables (the local web chat arrives through the chat queue). */
export function createSources(ctx: ProcessContext): ChatSource[] {
  const sources: ChatSource[] = [];
  void ctx;
  return sources;
}
