/** Every case of `npm run faults`, in the order the table prints them. */
import type { FaultCase } from './case';
import { clockFaultCases } from './clock-faults';
import { hostileCallerCases } from './hostile-callers';
import { hostileDestinationCases } from './hostile-destination';
import { restoreFaultCases } from './restore-faults';
import { sandboxFaultCases } from './sandbox-faults';

export const ALL_CASES: FaultCase[] = [...sandboxFaultCases, ...restoreFaultCases, ...clockFaultCases, ...hostileCallerCases, ...hostileDestinationCases];
