/**
 * What the commitlog capture signs and encrypts with (shared/capture/seal.ts): its data key is
 * recorded in `<stateDir>/capture/key.json`.
 */
import { join } from 'node:path';
import { openSeal as openCaptureSeal, type CaptureSeal, type CaptureSigning, type CaptureTarget } from '../../../../shared/capture/seal';

export type { CaptureDataKey, CaptureSeal, CaptureSigning } from '../../../../shared/capture/seal';

/** Opens the seal of the commitlog capture of `target` (openCaptureSeal). */
export const openSeal = (target: CaptureTarget, signing: CaptureSigning, recipients: readonly string[] | undefined, stateDir: string): Promise<CaptureSeal> =>
  openCaptureSeal(target, signing, recipients, join(stateDir, 'capture', 'key.json'), 'the commitlog capture');
