import type { UnaryHandler } from '../handler.js';
import { listInstruments } from './list-instruments.js';

/** InstrumentService handlers by method path. */
export const instrumentHandlers: Record<string, UnaryHandler> = {
  '/tierbook.v1.InstrumentService/ListInstruments': listInstruments,
};
