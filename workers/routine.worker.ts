import type { Payload } from '../queues/registry';
import type { Deps } from '../src/deps';

/**
 * Expand a routine into timed jobs: each step becomes a delayed tts or scene job with an id
 * derived from the run and the step, so a retried expansion never schedules a step twice.
 */
export async function handle(r: Payload<'routine'>, deps: Deps) {
  const { config, queues } = deps;
  const now = Date.now();
  let i = 0;
  for (const step of r.steps) {
    const stepId = `${r.runId}-${i++}`;
    if (step.action === 'say') {
      await queues.enqueue(
        'tts',
        { utteranceId: stepId, channel: r.channel, text: step.text, voice: step.voice ?? config.defaultVoice, priority: step.priority ?? 4, acceptedAt: now + step.atMs, origin: { platform: 'routine', user: r.name } },
        { delay: step.atMs },
      );
    } else {
      await queues.enqueue('scene', { channel: r.channel, scene: step.scene }, { delay: step.atMs, jobId: stepId });
    }
  }
  deps.log.info({ routine: r.name, runId: r.runId, steps: r.steps.length }, 'routine expanded');
  return { steps: r.steps.length };
}
