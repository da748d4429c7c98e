import { z } from 'zod';
import { defineQueue, keepCompleted, keepFailed } from './define';

/** Housekeeping that keeps a 24/7 Redis flat. */
export const maintenanceQueue = defineQueue({
  name: 'maintenance',
  process: 'worker',
  jobName: 'maintenance.run',
  schema: z.strictObject({
    /** `sweep`: forget fleet members whose heartbeats stopped and clean old jobs from every queue. */
    task: z.enum(['sweep']),
  }),
  jobOptions: { attempts: 1, removeOnComplete: keepCompleted, removeOnFail: keepFailed },
});
