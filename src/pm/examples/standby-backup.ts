/**
 * Example of a user-written controller (linked from the README): "standby backup".
 *
 * When a connection is established, open one subflow from `localAddress` marked backup (MP_PRIO:
 * used only when the other subflows fail). If that subflow closes, open it again `retryMs` later.
 * A controller is an object with a name and a pure `handle(event, view)` returning commands; its
 * timers are set-timer commands answered by tick events. Run it with:
 *
 *   import { runKernelController } from 'mptcp/pm';            // or the userspace driver
 *   await runKernelController(standbyBackup({ localAddress: '10.0.2.1' }), { netns: 'client' });
 */
import type { Controller, PmCommand, PmEvent, PmView } from '../types.js';

export interface StandbyBackupOptions {
  /** Local address of the standby path (e.g. the cellular interface). */
  localAddress: string;
  /** Delay before re-opening the standby subflow after it closed. */
  retryMs?: number;
}

export function standbyBackup({ localAddress, retryMs = 5000 }: StandbyBackupOptions): Controller {
  const open = (connection: string, view: PmView): PmCommand[] => {
    const conn = view.connection(connection);
    if (!conn || conn.serverSide) return [];
    if (conn.subflows.some((sf) => sf.local.address === localAddress)) return [];
    return [
      {
        type: 'create-subflow',
        connection,
        localAddress,
        remoteAddress: conn.remote.address,
        remotePort: conn.remote.port,
        backup: true,
      },
    ];
  };
  return {
    name: 'standby-backup',
    handle(ev: PmEvent, view: PmView): PmCommand[] {
      switch (ev.type) {
        case 'connection-established':
          return open(ev.connection, view);
        case 'subflow-closed':
          if (ev.local.address !== localAddress) return [];
          return [
            { type: 'set-timer', connection: ev.connection, atMs: ev.timeMs + retryMs, timer: 'standby' },
          ];
        case 'tick':
          return ev.timer === 'standby' ? open(ev.connection, view) : [];
        default:
          return [];
      }
    },
  };
}
