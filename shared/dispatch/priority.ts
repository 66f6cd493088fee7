/**
 * The priority level a call is scheduled at: the one its request asks for (or the default), no
 * more urgent than its producer may use (`maxPriority` in the deployment configuration).
 */
import { cappedPriority, producerNamed } from '../config/deployment.js';
import { effectivePriority, type Priority } from '../contract/request.js';
import type { BatchContext, Work } from './context.js';

export function priorityOf(ctx: Pick<BatchContext, 'deployment'>, work: Work): Priority {
  const max = producerNamed(ctx.deployment, work.producer)?.maxPriority ?? 'high';
  return cappedPriority(effectivePriority(work.request), max);
}
