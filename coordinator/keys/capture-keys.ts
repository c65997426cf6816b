/**
 * Rotation of the commitlog capture's data keys (`tandem_capture/<cluster>/<node>/keys/<id>.age`,
 * shared/capture/capture-key.ts): each is opened with the operator's identity and sealed again to
 * the fleet's current recipients, as set keys are. The pieces stay as they are. A key file whose
 * content is not the key its name says (planted, swapped) is left alone and reported.
 */
import { encrypt, formatIdentityFile, type X25519Identity } from '../../shared/age';
import { CaptureKeys } from '../../shared/capture/capture-key';
import type { Destination } from '../../shared/destination';
import { CAPTURE_ROOT, captureKeyPath, captureKeysFolder } from '../../shared/destination/layout';
import { errorMessage } from '../../shared/errors';
import { NODE_NAME } from '../../shared/names';

/** What a rotation did, or would do, to one capture key. */
export interface CaptureKeyOutcome {
  /** `<cluster>/<node>/<key id>`. */
  key: string;
  outcome: 'resealed' | 'would-reseal' | 'failed';
  problem?: string;
}

const KEY_FILE = /^([0-9a-f]{32})\.age$/;

/** Every capture key at `dest`, by cluster and node (folders whose names are not names are skipped). */
async function captureKeys(dest: Destination): Promise<{ cluster: string; node: string; id: string }[]> {
  const out = [];
  for (const cluster of (await dest.folders(CAPTURE_ROOT)).filter((c) => NODE_NAME.test(c))) {
    for (const node of (await dest.folders(`${CAPTURE_ROOT}/${cluster}`)).filter((n) => NODE_NAME.test(n))) {
      const folder = captureKeysFolder(cluster, node);
      for (const e of await dest.list(folder)) {
        const m = KEY_FILE.exec(e.path.slice(folder.length + 1));
        if (m) out.push({ cluster, node, id: m[1] });
      }
    }
  }
  return out;
}

/** Reseals every capture key at `dest` to `recipients`, opening each with `identities` (none needed for a dry run). */
export async function rotateCaptureKeys(dest: Destination, recipients: readonly string[], identities: readonly X25519Identity[], options: { dryRun?: boolean; signal?: AbortSignal; onKey?: (o: CaptureKeyOutcome) => void } = {}): Promise<CaptureKeyOutcome[]> {
  const outcomes: CaptureKeyOutcome[] = [];
  const keys = new CaptureKeys(dest, identities);
  for (const k of await captureKeys(dest)) {
    if (options.signal?.aborted) break;
    const key = `${k.cluster}/${k.node}/${k.id}`;
    let outcome: CaptureKeyOutcome;
    if (options.dryRun) outcome = { key, outcome: 'would-reseal' };
    else {
      try {
        // Opened and checked against its id first (a file holding another key is not resealed under this name), then sealed anew.
        const identity = await keys.identity(k.cluster, k.node, k.id);
        await dest.writeAtomic(captureKeyPath(k.cluster, k.node, k.id), encrypt(recipients, Buffer.from(formatIdentityFile(identity))));
        outcome = { key, outcome: 'resealed' };
      } catch (err) {
        outcome = { key, outcome: 'failed', problem: errorMessage(err) };
      }
    }
    outcomes.push(outcome);
    options.onKey?.(outcome);
  }
  return outcomes;
}
