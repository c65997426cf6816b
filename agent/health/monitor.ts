/**
 * The standard gRPC health service (grpc.health.v1.Health, Check and Watch) of one agent, fed by
 * probes of each role's dependency: service "tandem.<role>" is SERVING while the role's health()
 * answers, and "" (the agent as a whole) while every role's does. Load balancers,
 * grpc_health_probe and Kubernetes probes speak this service.
 */
import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/log';
import type { Role } from '../roles/role';

/** The health service name of a role: "tandem.cassandra", "tandem.elasticsearch", "tandem.files". */
export const healthServiceName = (role: string): string => `tandem.${role}`;

/** The name of the agent as a whole, as the health protocol defines it. */
export const OVERALL = '';

/** How often and how long the dependencies are probed. */
export interface HealthTiming {
  /** Between the starts of two rounds of probes, ms. */
  intervalMs: number;
  /** How long one probe may take before its role counts as not serving, ms. */
  timeoutMs: number;
}

/** One role's probe: its in-flight call (at most one: a slow dependency never gets a pile of them) and its last verdict. */
interface Probe {
  service: string;
  role: Role;
  inFlight: Promise<void> | null;
  status: ServingStatus;
}

/** Probes every role at start and every `intervalMs`, and serves the verdicts through `implementation`. */
export class HealthMonitor {
  private readonly implementation: HealthImplementation;
  /** Open Watch streams, ended at stop: the server's graceful shutdown waits for every open call. */
  private readonly watches = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  private readonly probes: Probe[];
  private readonly stopped = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private overall: ServingStatus = 'UNKNOWN';

  constructor(roles: readonly Role[], private readonly timing: HealthTiming, private readonly log: Logger) {
    // UNKNOWN until the first answer: the agent has not looked yet, which is neither verdict.
    this.probes = roles.map((role) => ({ service: healthServiceName(role.name), role, inFlight: null, status: 'UNKNOWN' }));
    this.implementation = new HealthImplementation(Object.fromEntries([[OVERALL, 'UNKNOWN'], ...this.probes.map((p) => [p.service, 'UNKNOWN'])]));
  }

  /** Registers grpc.health.v1.Health on the agent's server (its port, its TLS, its interceptors). */
  addTo(server: grpc.Server): void {
    this.implementation.addToServer({
      addService: (definition, handlers) => {
        const watch = handlers.watch as grpc.handleServerStreamingCall<unknown, unknown>;
        server.addService(definition as unknown as grpc.ServiceDefinition, {
          ...handlers,
          watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
            this.watches.add(call);
            call.once('cancelled', () => this.watches.delete(call));
            call.once('finish', () => this.watches.delete(call));
            watch(call);
          },
        } as grpc.UntypedServiceImplementation);
      },
    });
  }

  /** Starts the first round now and the next ones every intervalMs. */
  start(): void {
    this.round();
    this.timer = setInterval(() => this.round(), this.timing.intervalMs);
    this.timer.unref();
  }

  /** Stops probing; every service turns NOT_SERVING, so that watchers learn the agent is going. */
  stop(): void {
    clearInterval(this.timer);
    this.stopped.abort();
    for (const p of this.probes) this.set(p, 'NOT_SERVING', 'the agent is stopping');
    for (const call of this.watches) call.end();
    this.watches.clear();
  }

  /** Probes every role whose previous probe has ended; one still in flight is left to its deadline. */
  private round(): void {
    for (const p of this.probes) if (!p.inFlight && !this.stopped.signal.aborted) p.inFlight = this.probe(p).finally(() => (p.inFlight = null));
  }

  private async probe(p: Probe): Promise<void> {
    if (!p.role.health) return this.set(p, 'SERVING', null);
    const signal = AbortSignal.any([this.stopped.signal, AbortSignal.timeout(this.timing.timeoutMs)]);
    // The deadline decides even for a probe that ignores its signal; the slot stays taken until it ends.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timing.timeoutMs / 1000} s`)), this.timing.timeoutMs);
    });
    // A probe that throws at once is a failed probe too, never an unhandled rejection.
    const health = p.role.health.bind(p.role);
    const call = Promise.resolve().then(() => health(signal));
    try {
      await Promise.race([call, late]);
      this.set(p, 'SERVING', null);
    } catch (err) {
      this.set(p, 'NOT_SERVING', errorMessage(err));
      await call.catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records a verdict; watchers hear of changes only (the library tells them at every setStatus). */
  private set(p: Probe, status: ServingStatus, problem: string | null): void {
    if (this.stopped.signal.aborted && status === 'SERVING') return;
    const changed = p.status !== status;
    p.status = status;
    if (changed) {
      this.implementation.setStatus(p.service, status);
      this.log[status === 'SERVING' ? 'info' : 'warn']({ service: p.service, status, problem }, 'health changed');
    }
    const overall: ServingStatus = this.probes.every((q) => q.status === 'SERVING') ? 'SERVING' : this.probes.some((q) => q.status === 'NOT_SERVING') ? 'NOT_SERVING' : 'UNKNOWN';
    if (overall !== this.overall) {
      this.overall = overall;
      this.implementation.setStatus(OVERALL, overall);
    }
  }
}
