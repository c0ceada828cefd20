// Exit codes of the tlsward command, and the error that means "the user asked for something invalid".

export const EXIT_OK = 0;
/** The operation was attempted and failed (the CA refused, a challenge failed, ...). */
export const EXIT_FAILURE = 1;
/** The command line (or configuration) is invalid; nothing was attempted. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override name = 'UsageError';
}
