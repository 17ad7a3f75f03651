/**
 * The subflow options `serve` and `connect` share: `--scheduler` and `--congestion`, read and checked
 * at once (a bad value is a UsageError, before anything listens or connects).
 */
import { resolveScheduler } from '../node/scheduler-option.js';
import { checkCongestionControl } from '../node/tcp-congestion.js';
import { type ParsedArgs, stringOption } from './args.js';
import { UsageError } from './usage-error.js';

export const SUBFLOW_OPTION_SPECS = {
  scheduler: { type: 'string' },
  congestion: { type: 'string' },
} as const;

export function subflowOptions(values: ParsedArgs['values']): { scheduler?: string; congestion?: string } {
  const scheduler = stringOption(values, 'scheduler');
  const congestion = stringOption(values, 'congestion');
  try {
    resolveScheduler(scheduler);
    if (congestion !== undefined) checkCongestionControl(congestion);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { ...(scheduler ? { scheduler } : {}), ...(congestion ? { congestion } : {}) };
}
