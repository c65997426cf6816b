/**
 * Mutual TLS for the agent's gRPC port. Agents accept only clients whose certificate chains
 * to the fleet's CA; the coordinator checks that the agent at an address is the node it names.
 * Plaintext exists only behind an explicit --insecure and only on loopback addresses.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';

/** Paths of the PEM files of one side of the connection. */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read TLS ${what} ${path}: ${(err as Error).message}. Create it with 'tandem certs'.`);
  }
}

/** The PEM files' contents, for a TLS server other than gRPC's (the agent's /metrics). */
export function readTlsFiles(tls: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: read(tls.ca, 'CA'), cert: read(tls.cert, 'certificate'), key: read(tls.key, 'key') };
}

/** True when host:port names a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  const host = bracketed ? bracketed[1] : address.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Server credentials: TLS with the client certificate required and checked against the CA. */
export function serverCredentials(tls: TlsFiles | undefined, listen: string): grpc.ServerCredentials {
  if (!tls) {
    if (!isLoopback(listen)) throw new ConfigError(`insecure mode listens only on loopback, not ${listen}`);
    return grpc.ServerCredentials.createInsecure();
  }
  return grpc.ServerCredentials.createSsl(read(tls.ca, 'CA'), [{ cert_chain: read(tls.cert, 'certificate'), private_key: read(tls.key, 'key') }], true);
}

/** Credentials and channel options of the channel to one agent. */
export interface AgentChannelSetup {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
}

/**
 * The coordinator's side of mutual TLS for a whole fleet: the CA, key and certificate are read
 * and parsed into one secure context, shared by the channel to every agent (one per agent cost
 * 1–2 ms of CPU and its own copy in memory, which a fleet of hundreds paid at every run).
 * Returns the setup of the channel to one agent; the server name checked is its node name.
 */
export function fleetClientCredentials(tls: TlsFiles | undefined): (address: string, nodeName: string) => AgentChannelSetup {
  if (!tls) {
    const insecure = grpc.credentials.createInsecure();
    return (address) => {
      if (!isLoopback(address)) throw new ConfigError(`insecure mode reaches only loopback agents, not ${address}`);
      return { credentials: insecure, options: {} };
    };
  }
  const credentials = grpc.credentials.createSsl(read(tls.ca, 'CA'), read(tls.key, 'key'), read(tls.cert, 'certificate'));
  return (_address, nodeName) => ({
    credentials,
    // The agent's certificate carries its node name: this checks that the agent answering at
    // the address is the node the fleet file names, whatever the address is.
    options: { 'grpc.ssl_target_name_override': nodeName, 'grpc.default_authority': nodeName },
  });
}

/** Client credentials and channel options for one agent; the server name checked is the agent's node name. */
export function clientCredentials(tls: TlsFiles | undefined, address: string, nodeName: string): AgentChannelSetup {
  return fleetClientCredentials(tls)(address, nodeName);
}
