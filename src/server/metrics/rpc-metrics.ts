import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TierName } from '../../domain/tiers.js';
import { codeName, methodLabel, metSla, RPC_BUCKETS, SLA_OBJECTIVES } from './sla.js';
import { SlaWindow } from './sla-window.js';
import { STAGES, type Stage } from './call-stages.js';

/** Stage latency buckets, seconds: most stages take 0.05-5 ms on loopback. */
const STAGE_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** What the gateway knows about a finished unary call (UnaryDeps.onDone). */
export interface FinishedCall {
  method: string;
  tier?: TierName;
  code: number;
  seconds: number;
  stages?: Record<Stage, number>;
}

/** The tier label of calls that never authenticated. */
export const NO_TIER = 'NONE';

/**
 * Per-call metrics of one gateway process, recorded on its event loop as each call finishes:
 * a latency histogram by method, tier and status code (its _count is the call count), and
 * per tier and objective the cumulative SLA counters plus the one-minute window gauges the
 * primary turns into `tierbook_sla_compliance_ratio`.
 */
export class RpcMetrics {
  private readonly duration: Histogram<'method' | 'tier' | 'code'>;
  private readonly slaCalls: Counter<'tier' | 'objective'>;
  private readonly slaMet: Counter<'tier' | 'objective'>;
  private readonly window = new SlaWindow();
  private readonly stage: Histogram<'tier' | 'stage'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'tierbook_rpc_duration_seconds',
      help: 'Unary RPC latency in the gateway, from the call arriving to its answer, by method, tier and gRPC status.',
      labelNames: ['method', 'tier', 'code'],
      buckets: RPC_BUCKETS,
      registers: [registry],
    });
    this.stage = new Histogram({
      name: 'tierbook_call_stage_seconds',
      help: 'Where unary calls spend their time, per tier and stage: admission, pool_wait, decode_logic_encode, redis, reply, total (src/server/metrics/call-stages.ts).',
      labelNames: ['tier', 'stage'],
      buckets: STAGE_BUCKETS,
      registers: [registry],
    });
    this.slaCalls = new Counter({
      name: 'tierbook_sla_calls_total',
      help: 'Unary calls of authenticated clients, per tier and SLA objective.',
      labelNames: ['tier', 'objective'],
      registers: [registry],
    });
    this.slaMet = new Counter({
      name: 'tierbook_sla_met_total',
      help: 'Unary calls answered within the objective for their tier without a server fault.',
      labelNames: ['tier', 'objective'],
      registers: [registry],
    });
    const window = this.window;
    const windowGauge = (name: string, help: string, pick: 'calls' | 'met') =>
      new Gauge({
        name,
        help,
        labelNames: ['tier', 'objective'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [key, t] of window.totals()) {
            const [tier, objective] = key.split('|') as [string, string];
            this.set({ tier, objective }, t[pick]);
          }
        },
      });
    windowGauge('tierbook_sla_window_calls', 'Calls in the last minute per tier and objective (summed over processes).', 'calls');
    windowGauge('tierbook_sla_window_met', 'Calls in the last minute that met the objective (summed over processes).', 'met');
  }

  /** Records one finished call. */
  observe(call: FinishedCall): void {
    const tier = call.tier ?? NO_TIER;
    this.duration.observe({ method: methodLabel(call.method), tier, code: codeName(call.code) }, call.seconds);
    if (call.stages) for (const st of STAGES) this.stage.observe({ tier, stage: st }, call.stages[st]);
    if (!call.tier) return;
    for (const objective of SLA_OBJECTIVES) {
      const met = metSla(objective, call.tier, call.code, call.seconds);
      this.slaCalls.inc({ tier, objective });
      if (met) this.slaMet.inc({ tier, objective });
      this.window.add(`${tier}|${objective}`, met);
    }
  }
}
