/**
 * Turns the `scheduler` option of connect/createServer (a Scheduler or its name) into a Scheduler.
 * A name gives a fresh instance per call (stateful schedulers are per connection).
 */
import type { Scheduler } from '../core/scheduler.js';
import {
  isSchedulerName,
  SCHEDULER_NAMES,
  schedulerByName,
  UnknownSchedulerError,
} from '../core/schedulers/index.js';

export function resolveScheduler(option: Scheduler | string | undefined): Scheduler {
  if (option === undefined) return schedulerByName('minrtt');
  if (typeof option !== 'string') return option;
  if (!isSchedulerName(option)) {
    throw new UnknownSchedulerError(`unknown scheduler '${option}' (valid: ${SCHEDULER_NAMES.join(', ')})`);
  }
  return schedulerByName(option);
}
