/**
 * Path management: the controller API (events in, commands out), the built-in controllers of
 * seed 003 (fullmesh, ndiffports, backup-on-rto, deadline-streaming, refresh-slowest), the
 * spec parser used by `--controller`, and the kernel driver (generic netlink userspace PM).
 * The userspace driver lives in ./userspace-driver.ts.
 */
export * from './types.js';
export * from './reasons.js';
export { fullmesh, type FullmeshOptions } from './controllers/fullmesh.js';
export { ndiffports, type NdiffportsOptions } from './controllers/ndiffports.js';
export { backupOnRto, type BackupOnRtoOptions, type BackupPath } from './controllers/backup-on-rto.js';
export {
  deadlineStreaming,
  type DeadlineStreamingOptions,
  type StreamingPath,
} from './controllers/deadline-streaming.js';
export { refreshSlowest, type RefreshSlowestOptions } from './controllers/refresh-slowest.js';
export { standbyBackup, type StandbyBackupOptions } from './examples/standby-backup.js';
export {
  ControllerSpecError,
  type ControllerFactory,
  controllerByName,
  controllerNames,
  registerController,
} from './registry.js';
export * from './kernel-events.js';
export { KernelPmState } from './kernel-state.js';
export {
  type DriverLogEntry,
  type KernelDriverOptions,
  KernelPmDriver,
  runKernelController,
  usableLocalAddresses,
} from './kernel-driver.js';
export { formatLogEntry, logEntryJson } from './log-format.js';
export {
  DEFAULT_RT_PRIORITY,
  restoreNormalScheduling,
  useRealtimeScheduling,
} from './realtime.js';
