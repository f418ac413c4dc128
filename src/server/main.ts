import cluster from 'node:cluster';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { startGateway } from './gateway-process.js';
import { superviseGateways } from './supervisor.js';

/**
 * The gateway cluster's entry point. The primary supervises N gateway processes (and, when
 * present, the sync thread); each gateway process listens on basePort + its index, and nginx
 * balances over them. Only this file binds ports, installs signal handlers and exits.
 */
const config = loadConfig();

if (cluster.isPrimary) {
  const logger = createLogger(config, { role: 'primary' });
  const supervisor = await superviseGateways(config, logger);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void supervisor.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => void supervisor.rollingRestart());
} else {
  const index = Number(process.env.TIERBOOK_GATEWAY_INDEX ?? '0');
  const logger = createLogger(config, { role: 'gateway', index });
  const gateway = await startGateway(config, logger, config.gateway.basePort + index);
  process.send?.({ type: 'ready', index });
  const stop = () => void gateway.shutdown().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  // Ctrl-C reaches the whole process group; the primary decides the order of shutdown.
  process.on('SIGINT', () => {});
}
