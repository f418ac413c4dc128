import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * The root logger of a process. Secrets are redacted by path wherever they might appear, as a
 * second line of defence: API keys are never passed to a log call in the first place.
 */
export function createLogger(
  config: Pick<Config, 'logLevel' | 'logPretty'>,
  bindings: Record<string, unknown> = {},
  /** Where JSON lines go instead of stdout (tests capture them); ignored when pretty. */
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.logLevel,
    base: { pid: process.pid, ...bindings },
    redact: { paths: ['apiKey', '*.apiKey', 'authorization', '*.authorization', 'headers.authorization'], censor: '[redacted]' },
    ...(config.logPretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return destination && !config.logPretty ? pino(options, destination) : pino(options);
}
