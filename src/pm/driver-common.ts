/**
 * What the kernel and userspace drivers share: asking the controller (a throwing controller is
 * logged and decides nothing), turning a `set-timer` command into a tick later, and a failed command
 * into a `command-failed` event for the controller.
 */
import type { Controller, PmCommand, PmEvent, PmView } from './types.js';

/** The controller's commands for `ev`; when it throws, `onError` gets the message and there are none. */
export function askController(
  controller: Controller,
  ev: PmEvent,
  view: PmView,
  onError: (message: string) => void,
): PmCommand[] {
  try {
    return controller.handle(ev, view);
  } catch (err) {
    onError(`controller ${controller.name} threw: ${(err as Error)?.message}`);
    return [];
  }
}

type SetTimer = Extract<PmCommand, { type: 'set-timer' }>;

/** Arms a timer that delivers the controller's `tick` at `cmd.atMs` (driver time); tracked in `timers`. */
export function armTickTimer(
  timers: Set<NodeJS.Timeout>,
  cmd: SetTimer,
  nowMs: () => number,
  deliver: (tick: PmEvent) => void,
): NodeJS.Timeout {
  const t = setTimeout(
    () => {
      timers.delete(t);
      deliver({ type: 'tick', connection: cmd.connection, timeMs: nowMs(), timer: cmd.timer });
    },
    Math.max(0, cmd.atMs - nowMs()),
  );
  timers.add(t);
  return t;
}

/** The event a controller receives when one of its commands failed. */
export function commandFailed(
  cmd: PmCommand,
  err: unknown,
  timeMs: number,
  errno?: number,
): Extract<PmEvent, { type: 'command-failed' }> {
  return {
    type: 'command-failed',
    connection: cmd.connection,
    timeMs,
    command: cmd,
    error: (err as Error)?.message ?? String(err),
    ...(errno !== undefined ? { errno } : {}),
  };
}
