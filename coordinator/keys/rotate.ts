/**
 * Key rotation: every set key not sealed to exactly the fleet's current recipients is opened with
 * the operator's identity and sealed again to them. One small file pair per set is rewritten; the
 * sets' own identities, and so every data file, stay as they are.
 */
import type { X25519Identity } from '../../shared/age';
import type { Destination } from '../../shared/destination';
import { errorMessage } from '../../shared/errors';
import { runPool } from '../../shared/pool';
import { reseal, sameRecipients } from './set-key';
import type { Signing } from '../signing';
import { readSetKeys, writeSetKey, type SetKeyState } from './store';

/** What a rotation did, or would do, to one set. */
export interface RotationOutcome {
  id: string;
  /**
   * `current`: already sealed to the fleet's recipients; `resealed` (or `would-reseal` on a dry
   * run); `clear`: the set is not encrypted; `failed`: `problem` says why, nothing was written.
   */
  outcome: 'current' | 'resealed' | 'would-reseal' | 'clear' | 'failed';
  /** The recipients set-key.json named before, or null when it did not say (missing, damaged, half-rotated). */
  before: string[] | null;
  /** Recipients added and removed by the rotation (against `before`; all of the fleet's when unknown). */
  added: string[];
  removed: string[];
  problem?: string;
}

/** Options of rotateSetKeys. */
export interface RotationOptions {
  /** Says what would change without opening or writing anything; no identity needed. Default false. */
  dryRun?: boolean;
  /** Reseals every set key, also those whose signed set-key.json says they are current. Default false. */
  all?: boolean;
  /** Stops taking new sets; the set in flight finishes its pair of writes. */
  signal?: AbortSignal;
  /** Called as each set is done, for a line of output. */
  onSet?: (outcome: RotationOutcome) => void;
}

/** How many sets are resealed at once. */
const ROTATE_PARALLELISM = 8;

/** True when `s` needs resealing to `recipients`: its description differs, or does not describe this set-key.age. */
export function needsReseal(s: Extract<SetKeyState, { state: 'sealed' }>, recipients: readonly string[]): boolean {
  return !s.info || !s.matches || !sameRecipients(s.info.recipients, recipients);
}

/** Reseals every set key at `dest` that is not sealed to exactly `recipients`, with `identities` to open them. */
export async function rotateSetKeys(dest: Destination, recipients: readonly string[], identities: readonly X25519Identity[], signing: Signing, options: RotationOptions = {}): Promise<RotationOutcome[]> {
  const states = await readSetKeys(dest, signing.trusted, options.signal);
  return runPool(states, ROTATE_PARALLELISM, options.signal, async (s) => {
    const outcome = await rotateOne(dest, s, recipients, identities, signing, options.dryRun ?? false, options.all ?? false);
    options.onSet?.(outcome);
    return outcome;
  });
}

async function rotateOne(dest: Destination, s: SetKeyState, recipients: readonly string[], identities: readonly X25519Identity[], signing: Signing, dryRun: boolean, all: boolean): Promise<RotationOutcome> {
  if (s.state === 'clear') return { id: s.id, outcome: 'clear', before: null, added: [], removed: [] };
  if (s.state === 'damaged') return { id: s.id, outcome: 'failed', before: null, added: [], removed: [], problem: s.problem };
  const before = s.info && s.matches ? s.info.recipients : null;
  const added = recipients.filter((r) => !before?.includes(r));
  const removed = before ? before.filter((r) => !recipients.includes(r)) : [];
  const base = { id: s.id, before, added, removed, ...(s.problem ? { problem: s.problem } : {}) };
  if (!all && !needsReseal(s, recipients)) return { ...base, outcome: 'current' };
  if (dryRun) return { ...base, outcome: 'would-reseal' };
  try {
    // Opened and sealed in memory first: an identity that does not open it writes nothing.
    const sealed = reseal(s.sealed, identities, recipients, { id: s.id, writtenFor: s.info?.recipients });
    await writeSetKey(dest, s.id, sealed, recipients, signing.key);
    return { ...base, outcome: 'resealed' };
  } catch (err) {
    return { ...base, outcome: 'failed', problem: errorMessage(err) };
  }
}
