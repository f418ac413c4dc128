import type { UnaryHandler } from '../handler.js';

/** AnalyticsService handlers by method path; the analytics issue fills this in. */
export const analyticsHandlers: Record<string, UnaryHandler> = {};
