/**
 * A client of the standard gRPC health service (grpc.health.v1.Health), built from the
 * definition grpc-health-check ships: what grpc_health_probe and load balancers speak.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { service } from 'grpc-health-check';
import type { TlsFiles } from '../../shared/rpc/tls';

/** A status as the health protocol names it. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** Check and Watch of one agent's health service. */
export interface HealthClient {
  /** Check of `name` ("" for the agent, "tandem.<role>" for a role). */
  check(name: string, timeoutMs?: number): Promise<HealthStatus>;
  /** Watch of `name`: every status it sends, in order, until `stop`. */
  watch(name: string): { seen: HealthStatus[]; ended: Promise<grpc.StatusObject | null>; stop(): void };
  close(): void;
}

const HealthClientCtor = grpc.makeGenericClientConstructor(service as unknown as grpc.ServiceDefinition, 'Health');

/** A health client for the agent `node` at `address`, over mutual TLS with the given client certificate (undefined: plaintext). */
export function healthClient(address: string, node: string, tls: TlsFiles | undefined): HealthClient {
  const credentials = tls ? grpc.credentials.createSsl(readFileSync(tls.ca), readFileSync(tls.key), readFileSync(tls.cert)) : grpc.credentials.createInsecure();
  const client = new HealthClientCtor(address, credentials, { 'grpc.ssl_target_name_override': node, 'grpc.default_authority': node }) as grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  return {
    check: (name, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        client.check({ service: name }, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: { status: HealthStatus }) => (err ? reject(err) : resolve(res.status)));
      }),
    watch: (name) => {
      const seen: HealthStatus[] = [];
      const call = client.watch({ service: name }) as grpc.ClientReadableStream<{ status: HealthStatus }>;
      call.on('data', (m) => seen.push(m.status));
      const ended = new Promise<grpc.StatusObject | null>((resolve) => {
        call.on('status', (s) => resolve(s));
        call.on('error', () => undefined);
      });
      return { seen, ended, stop: () => call.cancel() };
    },
    close: () => client.close(),
  };
}
