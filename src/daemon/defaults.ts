// The daemon's defaults that the CLI names in its help, kept apart so that reading them loads nothing heavy.

/** Cache folder of providers that set none. */
export const DEFAULT_CACHE = '/var/lib/tlsward';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
