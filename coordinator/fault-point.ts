/**
 * Named points of the backup run where `npm run faults` injects its faults. With
 * TANDEM_FAULT_POINT=<name> in its environment, the coordinator says so on stderr and stops
 * itself (SIGSTOP) on reaching that point; the fault suite then kills an agent, a service or the
 * coordinator itself, and resumes it (SIGCONT) or not. Without the variable this is a no-op.
 * Points: before-prepare, before-commit, shipping, before-manifest, after-manifest; and of a
 * prune or delete: prune-after-marker (once every set it removes is marked), and for each set
 * it removes prune-after-snapshot, prune-after-manifest-removed, prune-removing-files (after the
 * first removal of its files).
 */
export function faultPoint(name: string): void {
  if (process.env.TANDEM_FAULT_POINT !== name) return;
  process.stderr.write(`tandem: fault point ${name} reached (pid ${process.pid})\n`);
  process.kill(process.pid, 'SIGSTOP');
}
