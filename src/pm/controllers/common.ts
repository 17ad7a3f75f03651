/** Pieces the built-in controllers share. Pure. */
import type { ConnectionId, PmCommand, PmEndpoint, ReflexSubflow } from '../types.js';

type CreateSubflowCommand = Extract<PmCommand, { type: 'create-subflow' }>;

/** `count` subflows on a connection's initial address pair (the OS picks new source ports). */
export function initialPairSubflows(
  localAddress: string,
  remote: PmEndpoint,
  count: number,
): ReflexSubflow[] {
  const out: ReflexSubflow[] = [];
  for (let i = 0; i < count; i++)
    out.push({ localAddress, remoteAddress: remote.address, remotePort: remote.port });
  return out;
}

/**
 * The create-subflow command of a reflex subflow on connection `id`. Every command made here has
 * the same fields in the same order (absent ones undefined), so that code handling them stays
 * optimized for one object shape.
 */
export function createCommand(id: ConnectionId, sf: ReflexSubflow): CreateSubflowCommand {
  return {
    type: 'create-subflow',
    connection: id,
    localAddress: sf.localAddress,
    remoteAddress: sf.remoteAddress,
    remotePort: sf.remotePort,
    backup: sf.backup,
  };
}

/** The create-subflow commands of `subflows` on connection `id`. */
export function createCommands(id: ConnectionId, subflows: readonly ReflexSubflow[]): PmCommand[] {
  return subflows.map((sf) => createCommand(id, sf));
}
