/**
 * Runs the sync thread in a process of its own: `node dist/src/sync/main.js`. Same thread as
 * the gateway primary starts; a separate process lets it be deployed (and killed) apart.
 * SIGTERM/SIGINT let the batch in hand commit before exiting.
 */
import pino from 'pino';
import { loadConfig } from '../shared/config.js';
import { startSyncThread } from './index.js';

const config = loadConfig();
const logger = pino({ level: config.logLevel }).child({ process: 'sync' });

startSyncThread(config, logger).then(
  (sync) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping the sync');
      sync.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  },
  (err: unknown) => {
    logger.fatal({ err }, 'the sync could not start');
    process.exit(1);
  },
);
