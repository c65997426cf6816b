/** Every case of `npm run faults`, by section, in the order the table prints them. */
import type { FaultCase } from './case';
import { clockFaultCases } from './clock-faults';
import { encryptionSandboxCases } from './encryption-sandbox';
import { hostileCallerCases } from './hostile-callers';
import { hostileDestinationCases } from './hostile-destination';
import { hostileDestinationCliCases } from './hostile-destination-cli';
import { hostileDestinationSandboxCases } from './hostile-destination-sandbox';
import { restoreFaultCases } from './restore-faults';
import { sandboxFaultCases } from './sandbox-faults';

/** The sections `npm run faults -- --section NAME` runs alone. */
export const SECTIONS = {
  sandbox: sandboxFaultCases,
  restore: restoreFaultCases,
  clock: clockFaultCases,
  callers: hostileCallerCases,
  /** Hostile destination files read by the coordinator's and the agent's own code, in temporary folders. */
  destination: hostileDestinationCases,
  /** Hostile destinations and restore targets through the real CLI and a real agent, with the invariants measured. */
  'destination-cli': hostileDestinationCliCases,
  /** Hostile Cassandra archives and contents.json through the real CLI: needs the sandbox. */
  'destination-sandbox': hostileDestinationSandboxCases,
  /** Wrong, exposed and damaged keys and ciphertexts of an encrypted set through the real CLI: needs the sandbox. */
  encryption: encryptionSandboxCases,
} satisfies Record<string, FaultCase[]>;

export const ALL_CASES: FaultCase[] = Object.values(SECTIONS).flat();
