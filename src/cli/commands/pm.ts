/**
 * `mptcp pm`: run a path-manager controller against the kernel's userspace path manager.
 *   mptcp pm run <controller> [--netns NAME] [--json] [--tick MS] [--poll MS]
 *   mptcp pm list [--json]
 * `run` is a daemon: it logs every event, command and error (one line each, or one JSON object per
 * line with --json) until SIGINT/SIGTERM, then releases its sockets and exits 0. The first line is
 * an info entry saying it is running. It waits for kernel events blocked in poll() (KernelPmDriver
 * eventWait 'blocking-poll') unless --event-loop, runs SCHED_FIFO when allowed (see --realtime),
 * uses the native reflex thread where it is built (see --native-reflex), and warms the
 * controller's code up at start.
 */
import { numberOption, parseCommandArgs, stringOption } from '../args.js';
import { UsageError } from '../usage-error.js';
import { untilStopSignal } from '../stop-signal.js';

export const summary =
  'run a path-manager controller (fullmesh, ndiffports:N, backup-on-rto…) on kernel MPTCP';
export const usage = `usage: mptcp pm run <controller> [--netns NAME] [--json] [--tick MS] [--poll MS]
                      [--realtime | --no-realtime] [--event-loop]
                      [--native-reflex | --no-native-reflex]
       mptcp pm list [--json]

Drives the kernel's userspace path manager (sysctl net.mptcp.path_manager=userspace, or
net.mptcp.pm_type=1 on older kernels) of the current or given network namespace.
Controllers (mptcp pm list shows their options):
  fullmesh[:reset=MS,timeout=MS,unreachable=MS,max=MS]
  ndiffports:N
  backup-on-rto:backup=REMOTE_ADDR[,local=LOCAL_ADDR,threshold=MS,port=N]
  deadline-streaming:other=ADDR[+ADDR…][,local=ADDR,deadline=MS,block=BYTES,period=MS]
  refresh-slowest[:period=MS,subflows=N,min=N]
--tick MS  periodic tick for controllers (default 500, 0 = none)
--poll MS  sock_diag refresh period, drives subflow-timeout (default 100)
--realtime run the reacting thread (the native reflex thread when it runs, else the main one)
           SCHED_FIFO (priority 10; needs CAP_SYS_NICE), or fail: a
           netlink event then wakes it ahead of normal tasks (see src/pm/realtime.ts). Without
           either flag it runs SCHED_FIFO when the system allows it, else normally (a note says so)
--no-realtime  normal scheduling
--event-loop wait for kernel events on the event loop instead of blocking in poll() between
           event-loop turns (the default, which wakes on an event directly; timers run up to
           20 ms late)
--native-reflex  send the controller's reflex (fullmesh, ndiffports, refresh-slowest: the
           subflows of a new connection) from a native thread (native/pm-reflex.c, built by
           npm run build where a C compiler is), or fail: it reacts 50-90 µs sooner than JS
           (issue #7). Without either flag it is used where it is built (a note says when not)
--no-native-reflex  the reflex is sent from JS`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      netns: { type: 'string' },
      json: { type: 'boolean' },
      tick: { type: 'string' },
      poll: { type: 'string' },
      realtime: { type: 'boolean' },
      'no-realtime': { type: 'boolean' },
      'event-loop': { type: 'boolean' },
      'native-reflex': { type: 'boolean' },
      'no-native-reflex': { type: 'boolean' },
    },
    2,
  );
  const json = values.json === true;
  const [sub, spec] = positionals;
  const { controllerByName, controllerNames, ControllerSpecError } = await import('../../pm/registry.js');
  if (sub === 'list') {
    const list = controllerNames();
    if (json) console.log(JSON.stringify(list));
    else
      for (const c of list)
        console.log(
          `${c.name.padEnd(20)} ${c.summary}\n${''.padEnd(20)} options: ${c.keys.join(', ') || '-'}`,
        );
    return 0;
  }
  if (sub !== 'run')
    throw new UsageError(
      sub === undefined ? 'missing subcommand (run or list)' : `unknown subcommand '${sub}'`,
    );
  if (spec === undefined) throw new UsageError('missing controller (e.g. fullmesh, ndiffports:4)');
  if (values.realtime === true && values['no-realtime'] === true)
    throw new UsageError('--realtime and --no-realtime contradict each other');
  if (values['native-reflex'] === true && values['no-native-reflex'] === true)
    throw new UsageError('--native-reflex and --no-native-reflex contradict each other');
  let controller: ReturnType<typeof controllerByName>;
  try {
    controller = controllerByName(spec);
  } catch (err) {
    if (err instanceof ControllerSpecError) throw new UsageError(err.message);
    throw err;
  }
  const netns = stringOption(values, 'netns');
  const tickIntervalMs = numberOption(values, 'tick', 500, 0, 3_600_000);
  const pollIntervalMs = numberOption(values, 'poll', 100, 0, 3_600_000);
  const { KernelPmDriver } = await import('../../pm/kernel-driver.js');
  const { formatLogEntry, logEntryJson } = await import('../../pm/log-format.js');
  const print = (e: Parameters<typeof formatLogEntry>[0]) =>
    console.log(json ? logEntryJson(e) : formatLogEntry(e));
  const { DEFAULT_RT_PRIORITY } = await import('../../pm/realtime.js');
  const driver = await KernelPmDriver.start(controller, {
    ...(netns === undefined ? {} : { netns }),
    // SCHED_FIFO unless --no-realtime: required with --realtime, else when the system allows it.
    ...(values['no-realtime'] === true
      ? {}
      : { realtimePriority: DEFAULT_RT_PRIORITY, realtimeBestEffort: values.realtime !== true }),
    // A fresh instance of the same controller: the driver warms its code up on synthetic events.
    scratchController: () => controllerByName(spec),
    eventWait: values['event-loop'] === true ? 'event-loop' : 'blocking-poll',
    nativeReflex:
      values['no-native-reflex'] === true ? 'off' : values['native-reflex'] === true ? 'required' : 'auto',
    tickIntervalMs,
    pollIntervalMs,
    log: (e) => {
      if (e.kind === 'event' && e.event.type === 'tick' && !e.event.timer) return;
      print(e);
    },
  });
  print({
    kind: 'info',
    timeMs: driver.now(),
    message: `running ${controller.name}${netns ? ` in netns ${netns}` : ''}${
      driver.native
        ? ` with the native reflex thread${driver.native.realtime ? ' (SCHED_FIFO)' : ''}`
        : driver.realtime
          ? ' (SCHED_FIFO)'
          : ''
    }`,
  });
  await untilStopSignal();
  await driver.stop();
  print({ kind: 'info', timeMs: driver.now(), message: 'stopped' });
  return 0;
}
