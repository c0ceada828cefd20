// `tlsward serve --config FILE`: runs the daemon until SIGTERM/SIGINT. SIGHUP reloads the configuration:
// a file with errors is reported and the running configuration stays.
import { formatProblems, loadConfig } from '../daemon/config/index.js';
import { Daemon, DEFAULT_CACHE } from '../daemon/daemon.js';
import { createLogger, type LogLevel } from '../daemon/logger.js';
import { loadConfigForCommand } from './config-file.js';
import { EXIT_OK } from './exit-codes.js';
import type { Terminal } from './terminal.js';

export interface ServeCommandOptions {
  config: string;
  cache?: string;
  logLevel: LogLevel;
  logFormat?: 'json' | 'pretty';
  drain: number;
  contextCache?: number;
}

export async function runServe(options: ServeCommandOptions, terminal: Terminal): Promise<number> {
  const config = await loadConfigForCommand(options.config, terminal);
  const logger = createLogger({
    level: options.logLevel,
    ...(options.logFormat ? { format: options.logFormat } : {}),
  });
  const daemon = await Daemon.start(config, {
    logger,
    defaultCache: options.cache ?? DEFAULT_CACHE,
    drainMs: options.drain * 1000,
    ...(options.contextCache ? { contextCacheSize: options.contextCache } : {}),
  });
  logger.info({ config: config.file, pid: process.pid }, 'tlsward is running');

  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      logger.info({ config: options.config }, 'SIGHUP: reloading the configuration');
      const result = await loadConfig(options.config);
      if (!result.config) {
        for (const line of formatProblems(result.problems)) logger.error(line);
        logger.error('the new configuration has errors; the running one stays');
        return;
      }
      await daemon.reload(result.config).catch((error: unknown) => {
        logger.error({ error: error instanceof Error ? error.message : String(error) }, 'reload failed');
      });
    });
  };
  process.on('SIGHUP', reload);

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.off('SIGHUP', reload);
  await reloading;
  await daemon.stop();
  logger.info('stopped');
  logger.flush();
  return EXIT_OK;
}
