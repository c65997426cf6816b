/**
 * What a continuous capture (the commitlog's, the file store's) signs and encrypts with: the
 * agent's TLS key and certificate (stored beside the capture so readers can check the lines
 * against the fleet's CA), and, when the capture is encrypted, its data key. The data key is made
 * here: sealed to the fleet's recipients and stored at the destination first, then its recipient
 * alone recorded in the state folder (the capture's `key.json`); the identity is dropped as soon
 * as it is sealed. A new key is made when the configured recipients change, so what is stored
 * after the change opens with the new recipients' identities only.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { encrypt, formatIdentityFile, generateIdentity } from '../age';
import type { Destination } from '../destination';
import { captureCertPath, captureKeyPath } from '../destination/layout';
import { writeFileDurably } from '../durable-file';
import { ConfigError } from '../errors';
import { certIdOf } from './agent-certs';
import { captureKeyId } from './capture-key';
import { keySigner, signLine, type LineKind, type LineSigner } from './signed-line';

/** Where one node's capture goes. */
export interface CaptureTarget {
  dest: Destination;
  cluster: string;
  node: string;
}

/** The agent's TLS files the capture signs with. */
export interface CaptureSigning {
  cert: string;
  key: string;
}

/** The key what is stored is encrypted to: its id (in every line) and its recipient. */
export interface CaptureDataKey {
  id: string;
  recipient: string;
}

/** How the capture's files are protected. */
export interface CaptureSeal {
  signer: LineSigner;
  /** null: stored in clear. */
  key: CaptureDataKey | null;
}

const keyStateSchema = z.strictObject({
  format: z.literal('tandem.capture-key/v1'),
  id: z.string().regex(/^[0-9a-f]{32}$/),
  recipient: z.string().startsWith('age1'),
  /** The recipients the key was sealed to, sorted. */
  sealedTo: z.array(z.string()),
});

/**
 * Opens the seal of `target`: stores the agent's certificate there when it is not yet, and makes
 * a data key for `recipients` when there is none for them (recorded in `keyFile`). `what` names
 * the capture in messages. Run before the first byte is stored.
 */
export async function openSeal(target: CaptureTarget, signing: CaptureSigning, recipients: readonly string[] | undefined, keyFile: string, what: string): Promise<CaptureSeal> {
  let cert: X509Certificate;
  let signer: LineSigner;
  try {
    const pem = readFileSync(signing.cert);
    cert = new X509Certificate(pem);
    signer = keySigner(createPrivateKey(readFileSync(signing.key)), certIdOf(cert));
  } catch (err) {
    throw new ConfigError(`${what} signs with the agent's TLS files (${signing.cert}, ${signing.key}), which cannot be read: ${(err as Error).message}`);
  }
  const certPath = captureCertPath(target.cluster, target.node, signer.certId);
  if ((await target.dest.stat(certPath)) === null) await target.dest.writeAtomic(certPath, cert.toString());
  return { signer, key: recipients?.length ? await dataKey(target, recipients, keyFile) : null };
}

/** The data key for `recipients`: the recorded one when it was sealed to them and its sealed file is at the destination, a new one otherwise. */
async function dataKey(target: CaptureTarget, recipients: readonly string[], file: string): Promise<CaptureDataKey> {
  const sealedTo = [...recipients].sort();
  if (existsSync(file)) {
    let recorded: unknown;
    try {
      recorded = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      recorded = null; // refused just below, as any record that is not one
    }
    const r = keyStateSchema.safeParse(recorded);
    if (!r.success) throw new ConfigError(`${file} is not the capture's key record: move it aside, and a new data key is made`);
    const same = r.data.sealedTo.length === sealedTo.length && r.data.sealedTo.every((x, i) => x === sealedTo[i]);
    if (same && (await target.dest.stat(captureKeyPath(target.cluster, target.node, r.data.id))) !== null) return { id: r.data.id, recipient: r.data.recipient };
  }
  const identity = generateIdentity();
  const recipient = identity.recipient.toString();
  const id = captureKeyId(recipient);
  // Sealed and stored before it is recorded: nothing is ever encrypted to a key nobody can open.
  await target.dest.writeAtomic(captureKeyPath(target.cluster, target.node, id), encrypt(recipients, Buffer.from(formatIdentityFile(identity))));
  writeFileDurably(file, `${JSON.stringify({ format: 'tandem.capture-key/v1', id, recipient, sealedTo })}\n`);
  return { id, recipient };
}

/** Signs lines, each once: a file of lines is rewritten whole as it grows, and its old lines keep their bytes. */
export class LineSigning {
  private readonly lines = new Map<string, string>();

  constructor(private readonly seal: CaptureSeal, private readonly t: CaptureTarget) {}

  line(kind: LineKind, fields: Record<string, unknown>): string {
    const k = `${kind} ${JSON.stringify(fields)}`;
    let line = this.lines.get(k);
    if (line === undefined) {
      line = signLine(this.seal.signer, kind, this.t.cluster, this.t.node, fields);
      this.lines.set(k, line);
    }
    return line;
  }

  /** Forgets the lines of `kind` whose fields' JSON starts with `fieldsPrefix` (a segment done with). */
  forget(kind: LineKind, fieldsPrefix: string): void {
    const start = `${kind} ${fieldsPrefix}`;
    for (const k of this.lines.keys()) if (k.startsWith(start)) this.lines.delete(k);
  }
}
