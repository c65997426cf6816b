/**
 * Ctrl-C and SIGTERM for a long run: the first asks the run to stop through an AbortSignal, so the
 * agents end the call they serve and the run settles and tells what it left; a second exits at once.
 */
import type { EventEmitter } from 'node:events';
import { setMaxListeners } from 'node:events';
import { EXIT } from './common';

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Stops listening (the run ended). */
  dispose(): void;
}

/** Listens for SIGINT and SIGTERM on `proc` (the process, or a stand-in in tests). */
export function watchInterrupt(
  onFirst: (name: string) => void,
  proc: Pick<EventEmitter, 'on' | 'off'> = process,
  exit: (code: number) => void = (code) => process.exit(code),
): Interrupt {
  const controller = new AbortController();
  // Every call in flight listens on it, one per agent at once.
  setMaxListeners(0, controller.signal);
  const handler = (name: string) => {
    if (controller.signal.aborted) return exit(EXIT.interrupted);
    onFirst(name);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  proc.on('SIGINT', onInt);
  proc.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    dispose() {
      proc.off('SIGINT', onInt);
      proc.off('SIGTERM', onTerm);
    },
  };
}
