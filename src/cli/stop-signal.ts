/**
 * `untilStopSignal()`: resolves at the first SIGINT or SIGTERM, for the long-running commands
 * (serve, pm run, monitor, lab up, serve-status). It keeps the process alive while it waits
 * (signal listeners alone do not) and removes its listeners once resolved.
 */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const stop = (): void => {
      clearInterval(keepAlive);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
