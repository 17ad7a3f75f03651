/** The sans-IO userspace MPTCP core: connection, listener, framing, schedulers, events. */
export {
  Connection,
  type ConnectionOptions,
  type ConnectionStats,
  type DataTraceEvent,
  type SubflowInfo,
} from './connection.js';
export { ConnectionAborted, JoinRefused, ProtocolViolation, WriteAfterEnd } from './errors.js';
export type { ConnectionEvent, SubflowAction, SubflowCloseReason } from './events.js';
export { FRAMING_VERSION, FrameDecoder, FrameError, MAX_FRAME_BYTES, PREAMBLE } from './frame.js';
export { Listener, type ListenerOutcome } from './listener.js';
export { eligibleSubflows, type Scheduler, type SchedulerContext, type SubflowView } from './scheduler.js';
export { SCHEDULER_NAMES, schedulerByName } from './schedulers/index.js';
