/**
 * `backup-on-rto` controller (seed 003 §4.2, "smarter backup"): the backup path is not opened in
 * advance (break-before-make saves radio and energy). When the retransmission timeout of a primary
 * subflow exceeds `thresholdMs` (default 1 s), the controller opens a subflow on the backup path and
 * closes the underperforming primary.
 *
 * Contract:
 * - The trigger is a subflow-timeout event with rtoMs > threshold, or (for drivers that only poll)
 *   any event after which the view shows a primary subflow with rtoMs > threshold.
 * - A primary subflow is an established, non-backup subflow that is not on the backup path.
 * - Commands, in order: create-subflow on the backup path (remote `backup.address`, default the
 *   connection's remote address; port `backup.port`, default the connection's; local
 *   `backup.localAddress` when given), then remove-subflow of the primary. Once per connection:
 *   after the switch the controller leaves the connection alone.
 * - If the OS closes the last primary subflow by itself (reset, timeout…) before the threshold was
 *   seen, the backup path is opened too (no removal needed).
 */
import type { ConnectionView, Controller, PmCommand, PmEvent, PmView, SubflowView } from '../types.js';

export const BACKUP_ON_RTO_THRESHOLD_MS = 1000;

export interface BackupPath {
  /** Remote address of the backup path (default: the connection's remote address). */
  address?: string;
  port?: number;
  /** Local address of the backup path (default: chosen by routing). */
  localAddress?: string;
}

export interface BackupOnRtoOptions {
  thresholdMs?: number;
  backup: BackupPath;
}

export function backupOnRto(options: BackupOnRtoOptions): Controller {
  const thresholdMs = options.thresholdMs ?? BACKUP_ON_RTO_THRESHOLD_MS;
  const backup = options.backup;
  if (!backup || (backup.address === undefined && backup.localAddress === undefined))
    throw new RangeError('backup-on-rto needs a backup path: a remote address, a local address, or both');
  if (!(thresholdMs > 0)) throw new RangeError(`backup-on-rto threshold must be > 0 ms, got ${thresholdMs}`);
  const switched = new Set<string>();

  const onBackupPath = (conn: ConnectionView, sf: SubflowView) =>
    (backup.address ?? conn.remote.address) === sf.remote.address &&
    (backup.localAddress === undefined || backup.localAddress === sf.local.address);

  const isPrimary = (conn: ConnectionView, sf: SubflowView) =>
    sf.established && !sf.backup && !onBackupPath(conn, sf);

  function switchOver(conn: ConnectionView, primary: SubflowView | undefined): PmCommand[] {
    if (switched.has(conn.id) || conn.serverSide) return [];
    switched.add(conn.id);
    const create: PmCommand = {
      type: 'create-subflow',
      connection: conn.id,
      remoteAddress: backup.address ?? conn.remote.address,
      remotePort: backup.port ?? conn.remote.port,
    };
    if (backup.localAddress !== undefined) create.localAddress = backup.localAddress;
    if (!primary) return [create];
    return [create, { type: 'remove-subflow', connection: conn.id, subflow: primary.key }];
  }

  function checkView(conn: ConnectionView): PmCommand[] {
    const slow = conn.subflows.find((sf) => isPrimary(conn, sf) && (sf.rtoMs ?? 0) > thresholdMs);
    return slow ? switchOver(conn, slow) : [];
  }

  return {
    name: 'backup-on-rto',
    handle(ev: PmEvent, view: PmView): PmCommand[] {
      if (ev.type === 'connection-closed') {
        switched.delete(ev.connection);
        return [];
      }
      if (ev.type === 'subflow-timeout') {
        const conn = view.connection(ev.connection);
        const sf = conn?.subflows.find((s) => s.key === ev.subflow);
        if (conn && sf && ev.rtoMs > thresholdMs && isPrimary(conn, sf)) return switchOver(conn, sf);
        return conn ? checkView(conn) : [];
      }
      if (ev.type === 'subflow-closed') {
        const conn = view.connection(ev.connection);
        if (!conn?.established) return [];
        const alive = conn.subflows.some((sf) => sf.established && !sf.backup);
        return alive ? checkView(conn) : switchOver(conn, undefined);
      }
      if (ev.type === 'tick') return view.connections().flatMap((c) => checkView(c));
      const conn = view.connection(ev.connection);
      return conn ? checkView(conn) : [];
    },
  };
}
