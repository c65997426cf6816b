/**
 * The rehearsal role: exercises the two-phase protocol without touching a database, for the
 * protocol's own integration tests (test/helpers/agent-main.ts registers it; production agents
 * do not know it). It leaves a marker file for every step so tests can see what ran and what was undone.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { absolutePath } from '../../shared/config/common';
import { roleFile, roleFolder } from '../../shared/destination/layout';
import type { Logger } from '../../shared/log';
import { readChecked } from '../../shared/parts/io';
import type { CheckResult, PhaseOutcome, RestorableRole, RestoreContext, RoleContext, ShipResult } from '../../agent/roles/role';
import type { RestorePhase } from '../../shared/contract';

/** Settings of the rehearsal role. */
export const rehearsalSettings = z.strictObject({
  /** How the role votes in Prepare; default yes. */
  vote: z.enum(['yes', 'no']).default('yes'),
  /** Time spent in ship, in milliseconds; default 200. */
  shipMs: z.number().int().min(0).max(600_000).default(200),
  /** Time spent in each restore phase, in milliseconds, reporting progress at each quarter; default 0. */
  restoreMs: z.number().int().min(0).max(600_000).default(0),
  /** The verify phase reads the role's stored file back through the restore's destination (decrypted for an encrypted set) and checks its text; default false. */
  readBack: z.boolean().default(false),
  /** Folder where a marker file per step is written. */
  markerDir: absolutePath,
});

export type RehearsalSettings = z.output<typeof rehearsalSettings>;

/** Creates the rehearsal role. Its restore changes nothing: it marks `<restoreId>/<phase>-started` and `-done` and waits `restoreMs`, 40 bytes in four steps. */
export function rehearsalRole(settings: RehearsalSettings): RestorableRole {
  const marker = async (backupId: string, step: string, body = '') => {
    await mkdir(join(settings.markerDir, backupId), { recursive: true });
    await writeFile(join(settings.markerDir, backupId, step), body);
  };
  return {
    name: 'rehearsal',
    async versions() {
      return { rehearsal: '1' };
    },
    async preflight(): Promise<CheckResult[]> {
      return [{ name: 'vote', ok: settings.vote === 'yes', message: settings.vote === 'yes' ? 'ready' : 'configured to vote no' }];
    },
    async prepare(ctx: RoleContext) {
      await marker(ctx.backupId, 'prepared');
    },
    async commit(ctx: RoleContext) {
      const at = Date.now();
      await marker(ctx.backupId, 'committed', String(at));
      return { cutAt: at };
    },
    async ship(ctx: RoleContext): Promise<ShipResult> {
      const steps = 4;
      const startedAt = Date.now();
      for (let i = 1; i <= steps; i++) {
        await sleep(settings.shipMs / steps, undefined, { signal: ctx.signal });
        ctx.progress({ phase: 'ship', filesDone: i, filesTotal: steps, bytesDone: i * 10, bytesTotal: steps * 10 });
      }
      const body = `rehearsal part of ${ctx.backupId} from ${ctx.node}\n`;
      const rel = roleFile(ctx.backupId, ctx.node, 'rehearsal', 'part.txt');
      await ctx.destination.writeAtomic(rel, body);
      ctx.span({ phase: 'copy', startedAt, endedAt: Date.now(), files: 1, bytesIn: Buffer.byteLength(body), bytesOut: Buffer.byteLength(body) });
      await marker(ctx.backupId, 'shipped');
      const file = { path: rel, size: Buffer.byteLength(body), sha256: createHash('sha256').update(body).digest('hex') };
      return { part: { file, summary: 'one rehearsal file' }, files: [file] };
    },
    async cleanup(ctx: RoleContext) {
      await marker(ctx.backupId, 'cleaned');
    },
    async abort(ctx: RoleContext) {
      // A store that cannot be reached during the undo: tests create this file, then remove it.
      if (await readFile(join(settings.markerDir, 'abort-fails'), 'utf8').then(() => true, () => false)) throw new Error('the rehearsal store is unreachable (abort-fails)');
      await ctx.destination.remove(roleFolder(ctx.backupId, ctx.node, 'rehearsal'));
      await rm(join(settings.markerDir, ctx.backupId, 'shipped'), { force: true });
      await marker(ctx.backupId, 'aborted');
    },
    async recover(_activeTag: string | null, _log: Logger) {},
    async restore(phase: RestorePhase, ctx: RestoreContext): Promise<PhaseOutcome | null> {
      await marker(ctx.restoreId, `${phase}-started`, ctx.backupId);
      // In steps, telling how far it got, as a real phase does (tandem status and the live lines show it).
      const steps = 4;
      for (let i = 1; settings.restoreMs && i <= steps; i++) {
        await sleep(settings.restoreMs / steps, undefined, { signal: ctx.signal });
        ctx.progress({ phase, filesDone: i, filesTotal: steps, bytesDone: i * 10, bytesTotal: steps * 10 });
      }
      if (settings.readBack && phase === 'verify') {
        const part = ctx.manifest.nodes.find((n) => n.node === ctx.node)?.parts.rehearsal;
        if (!part) return { ok: false, problems: [`no rehearsal part of ${ctx.node}`] };
        const text = (await readChecked(ctx.destination, part.file)).toString('utf8');
        const expected = `rehearsal part of ${ctx.backupId} from ${ctx.node}\n`;
        await marker(ctx.restoreId, 'read-back', text);
        if (text !== expected) return { ok: false, problems: [`${part.file.path} reads ${JSON.stringify(text)}`] };
      }
      await marker(ctx.restoreId, `${phase}-done`, ctx.backupId);
      return { detail: `rehearsal ${phase}` };
    },
  };
}
