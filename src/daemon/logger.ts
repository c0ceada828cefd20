// The daemon's logger: pino, structured JSON by default (for journald, Loki, files), readable lines when
// stderr is a terminal. Secrets never reach it: the config's secret fields are never logged, and these
// paths are redacted in case an object carrying one is logged by mistake.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { LogLevel } from './defaults.js';

export type { Logger } from 'pino';

export { LOG_LEVELS, type LogLevel } from './defaults.js';

const REDACTED_PATHS = [
  'secret',
  '*.secret',
  'hmacKey',
  '*.hmacKey',
  'privateKey',
  '*.privateKey',
  'privateKeyPem',
  '*.privateKeyPem',
  'eab.hmacKey',
  'dns.secret',
];

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** `json` (default when not a terminal) or `pretty` (one readable line per entry). */
  readonly format?: 'json' | 'pretty';
  /** Where lines go; default stderr. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stderr;
  const pretty = (options.format ?? (process.stderr.isTTY ? 'pretty' : 'json')) === 'pretty';
  return pino(
    {
      level: options.level ?? 'info',
      base: { name: 'tlsward' },
      redact: { paths: REDACTED_PATHS, censor: '[secret]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pretty ? prettyLines(destination) : (destination as pino.DestinationStream),
  );
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

/** Turns pino's JSON lines into `HH:MM:SS LEVEL message key=value ...`. */
function prettyLines(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
          const fields = Object.entries(entry)
            .filter(([key]) => !HIDDEN_FIELDS.has(key))
            .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
          out.write(
            `${time} ${(LEVEL_NAMES[Number(entry.level)] ?? '?').padEnd(5)} ${entry.msg ?? ''}${fields.length ? `  ${fields.join(' ')}` : ''}\n`,
          );
        } catch {
          out.write(`${line}\n`);
        }
      }
      callback();
    },
  });
}
