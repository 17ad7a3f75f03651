/**
 * `refresh-slowest` controller (seed 003 §4.4, "smarter exploitation of flow-based load balancing"):
 * with several subflows hashed onto unknown paths, every `periodMs` (default 2.5 s) close the
 * subflow with the lowest delivery rate and open a new one on a new source port, so that over time
 * the subflows spread over distinct paths.
 *
 * Contract: client side only. On connection-established it opens `subflows − 1` extra subflows on
 * the initial address pair (default subflows 1: none) and arms a timer. At each period, among the
 * established subflows with a known delivery rate (at least `minSubflows`, default 2), the slowest
 * is removed and a replacement is created on the same local/remote addresses and remote port (the
 * OS picks a new source port). The timer re-arms until connection-closed. Reflex: the
 * `subflows − 1` creates of a new connection.
 */
import type {
  Controller,
  PmCommand,
  PmEvent,
  PmView,
  ReflexConnection,
  ReflexSubflow,
  SubflowView,
} from '../types.js';
import { createCommands, initialPairSubflows } from './common.js';

export const REFRESH_SLOWEST_PERIOD_MS = 2500;
const PERIOD_TIMER = 'refresh-slowest:period';

export interface RefreshSlowestOptions {
  periodMs?: number;
  /** Subflows to open at establishment, the initial one included. */
  subflows?: number;
  /** Refresh only when at least this many subflows have a delivery rate. */
  minSubflows?: number;
}

export function refreshSlowest(options: RefreshSlowestOptions = {}): Controller {
  const periodMs = options.periodMs ?? REFRESH_SLOWEST_PERIOD_MS;
  const subflows = options.subflows ?? 1;
  const minSubflows = options.minSubflows ?? 2;
  if (!(periodMs > 0)) throw new RangeError(`refresh-slowest period must be > 0 ms, got ${periodMs}`);
  if (!Number.isInteger(subflows) || subflows < 1)
    throw new RangeError(`subflows must be ≥ 1, got ${subflows}`);
  const active = new Set<string>();

  return {
    name: 'refresh-slowest',
    // The creates of connection-established (its timer is armed by handle()).
    establishedReflex(conn: ReflexConnection): ReflexSubflow[] {
      return initialPairSubflows(conn.localAddress, conn.remote, subflows - 1);
    },
    handle(ev: PmEvent, view: PmView): PmCommand[] {
      switch (ev.type) {
        case 'connection-established': {
          const conn = view.connection(ev.connection);
          if (!conn || conn.serverSide || active.has(conn.id)) return [];
          active.add(conn.id);
          const out = createCommands(
            conn.id,
            initialPairSubflows(conn.local.address, conn.remote, subflows - 1),
          );
          out.push({
            type: 'set-timer',
            connection: conn.id,
            atMs: ev.timeMs + periodMs,
            timer: PERIOD_TIMER,
          });
          return out;
        }
        case 'tick': {
          if (ev.timer !== PERIOD_TIMER || !active.has(ev.connection)) return [];
          const out: PmCommand[] = [
            { type: 'set-timer', connection: ev.connection, atMs: ev.timeMs + periodMs, timer: PERIOD_TIMER },
          ];
          const conn = view.connection(ev.connection);
          if (!conn) return out;
          const rated = conn.subflows.filter(
            (sf): sf is SubflowView & { deliveryRateBytesPerSec: number } =>
              sf.established && sf.deliveryRateBytesPerSec !== undefined,
          );
          if (rated.length < minSubflows) return out;
          let slowest = rated[0]!;
          for (const sf of rated)
            if (sf.deliveryRateBytesPerSec < slowest.deliveryRateBytesPerSec) slowest = sf;
          out.push(
            { type: 'remove-subflow', connection: conn.id, subflow: slowest.key },
            {
              type: 'create-subflow',
              connection: conn.id,
              localAddress: slowest.local.address,
              remoteAddress: slowest.remote.address,
              remotePort: slowest.remote.port,
              backup: slowest.backup,
            },
          );
          return out;
        }
        case 'connection-closed':
          active.delete(ev.connection);
          return [];
        default:
          return [];
      }
    },
  };
}
