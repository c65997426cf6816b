/**
 * What the capture signs and encrypts with: the agent's TLS key and certificate (stored beside the
 * capture so readers can check the lines against the fleet's CA), and, when the capture is
 * encrypted, its data key. The data key is made here: sealed to the fleet's recipients and stored
 * at the destination first, then its recipient alone recorded in the state folder
 * (`<stateDir>/capture/key.json`); the identity is dropped as soon as it is sealed. A new key is
 * made when the configured recipients change, so pieces stored after the change open with the new
 * recipients' identities only.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { encrypt, formatIdentityFile, generateIdentity } from '../../../../shared/age';
import { certIdOf } from '../../../../shared/capture/agent-certs';
import { captureKeyId } from '../../../../shared/capture/capture-key';
import { keySigner, type LineSigner } from '../../../../shared/capture/signed-line';
import { captureCertPath, captureKeyPath } from '../../../../shared/destination/layout';
import { writeFileDurably } from '../../../../shared/durable-file';
import { ConfigError } from '../../../../shared/errors';
import type { Destination } from '../../../../shared/destination';

/** Where the capture goes (store.ts's CaptureTarget). */
interface SealTarget {
  dest: Destination;
  cluster: string;
  node: string;
}

/** The agent's TLS files the capture signs with. */
export interface CaptureSigning {
  cert: string;
  key: string;
}

/** The key pieces are encrypted to: its id (in every index line) and its recipient. */
export interface CaptureDataKey {
  id: string;
  recipient: string;
}

/** How the capture's files are protected. */
export interface CaptureSeal {
  signer: LineSigner;
  /** null: the pieces are stored in clear. */
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
 * a data key for `recipients` when there is none for them. Run before the first piece is stored.
 */
export async function openSeal(target: SealTarget, signing: CaptureSigning, recipients: readonly string[] | undefined, stateDir: string): Promise<CaptureSeal> {
  let cert: X509Certificate;
  let signer: LineSigner;
  try {
    const pem = readFileSync(signing.cert);
    cert = new X509Certificate(pem);
    signer = keySigner(createPrivateKey(readFileSync(signing.key)), certIdOf(cert));
  } catch (err) {
    throw new ConfigError(`the commitlog capture signs with the agent's TLS files (${signing.cert}, ${signing.key}), which cannot be read: ${(err as Error).message}`);
  }
  const certPath = captureCertPath(target.cluster, target.node, signer.certId);
  if ((await target.dest.stat(certPath)) === null) await target.dest.writeAtomic(certPath, cert.toString());
  return { signer, key: recipients?.length ? await dataKey(target, recipients, stateDir) : null };
}

/** The data key for `recipients`: the recorded one when it was sealed to them and its sealed file is at the destination, a new one otherwise. */
async function dataKey(target: SealTarget, recipients: readonly string[], stateDir: string): Promise<CaptureDataKey> {
  const file = join(stateDir, 'capture', 'key.json');
  const sealedTo = [...recipients].sort();
  if (existsSync(file)) {
    const r = keyStateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!r.success) throw new ConfigError(`${file} is not the capture's key record: move it aside, and a new data key is made`);
    const same = r.data.sealedTo.length === sealedTo.length && r.data.sealedTo.every((x, i) => x === sealedTo[i]);
    if (same && (await target.dest.stat(captureKeyPath(target.cluster, target.node, r.data.id))) !== null) return { id: r.data.id, recipient: r.data.recipient };
  }
  const identity = generateIdentity();
  const recipient = identity.recipient.toString();
  const id = captureKeyId(recipient);
  // Sealed and stored before it is recorded: a piece is never encrypted to a key nobody can open.
  await target.dest.writeAtomic(captureKeyPath(target.cluster, target.node, id), encrypt(recipients, Buffer.from(formatIdentityFile(identity))));
  writeFileDurably(file, `${JSON.stringify({ format: 'tandem.capture-key/v1', id, recipient, sealedTo })}\n`);
  return { id, recipient };
}
