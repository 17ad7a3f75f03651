/**
 * UsageError: a bad command-line argument. The CLI prints its message and exits with status 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
