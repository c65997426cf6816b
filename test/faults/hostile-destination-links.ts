/**
 * Links and races at a destination and at a files restore target, through the real CLI:
 * a symbolic link at every level of the destination (its root, a set, a node, a role folder, a
 * manifest, a marker, a part record, a listing, an attachment, the lock file) and of a restore
 * target (the target, a parent, a folder and a file in it, and a folder swapped for a link while
 * a long load runs); two other coordinators pruning while an incremental backup holds the
 * destination lock; a read of a manifest failing for a moment, then for good, during a prune.
 * Every link points into the sentinel folder, which must come out unchanged.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync, cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DESTINATION_LOCK_FILE } from '../../shared/destination/layout';
import { otherFleetFile } from '../helpers/fleet';
import type { FaultCase } from './case';
import { runMeasured, type CliRun } from './destination-bed';
import { cliCase, okProblem, parentOf, refusedProblem, said, type CaseBed } from './destination-cli-case';

const LINK = /symbolic link|link: refused|links/;
const isRoot = () => process.getuid?.() === 0;

/** Moves `path` aside (beside the bed's folders, out of the destination) and puts a link to `to` in its place; the returned function undoes it. */
function swapForLink(b: CaseBed, path: string, to: string): () => void {
  const aside = join(dirname(b.targets), `aside-${Math.random().toString(36).slice(2, 8)}`);
  renameSync(path, aside);
  symlinkSync(to, path);
  return () => {
    rmSync(path, { force: true });
    renameSync(aside, path);
  };
}

const newest = (b: CaseBed) => b.sets[b.sets.length - 1];

/**
 * A link in place of `path(b)` inside the destination, to `to(b)` in the sentinel: restore and
 * verify of the newest set refuse it, and a prune --keep-last 1 (which decides to remove every
 * set but the newest) removes nothing through it. Once the link is undone, the newest set restores.
 */
const destinationLinkCase = (name: string, path: (b: CaseBed) => string, to: (b: CaseBed) => string, opts: { prune?: 'refused' } = {}): FaultCase =>
  cliCase(name, `not followed: restore and verify refuse it; ${opts.prune === 'refused' ? 'prune refuses' : 'prune'} removes nothing through it`, {}, async (b) => {
    const undo = swapForLink(b, path(b), to(b));
    let r: CliRun, v: CliRun, p: CliRun;
    try {
      r = await b.restore(newest(b), 'target');
      v = await b.cli('verify', newest(b));
      p = await b.cli('prune', '--keep-last', '1');
    } finally {
      undo();
    }
    const after = await b.restore(newest(b), 'after');
    const problems = [refusedProblem('restore', r, LINK), refusedProblem('verify', v, LINK), opts.prune === 'refused' ? refusedProblem('prune', p, LINK) : '', okProblem('restore of the newest set once the link is gone', after)];
    // A prune that got as far as marking the older sets removed them by its policy (the next prune finishes the job).
    return { observed: said(['restore', r], ['verify', v], ['prune', p], ['restore after', after]), problems, removed: opts.prune === 'refused' ? [] : b.sets.slice(0, -1) };
  });

/** A restore target (or what is in it) made a link into the sentinel by `plant` before the restore; `why` when it must be refused. */
const targetLinkCase = (name: string, expected: string, plant: (b: CaseBed) => string, why: RegExp | null, ...extra: string[]): FaultCase =>
  cliCase(name, expected, { phase: 'restore:load' }, async (b) => {
    const target = plant(b);
    const r = await b.cli('restore', newest(b), '--yes', '--json', '--files-target', target, ...extra);
    return { observed: said([`restore ${extra.join(' ')}`.trim(), r]), problems: [why ? refusedProblem('restore', r, why) : okProblem('restore', r)] };
  });

/** Waits until `check` holds, every 10 ms, for at most `ms`; whether it did. */
async function until(check: () => boolean, ms = 20_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (check()) return true;
  return false;
}

/**
 * Makes the newest set's manifest unreadable: chmod 000 when not root; as root (chmod stops no
 * read) a symbolic link in its place, which the destination refuses to open: a read error either way.
 */
function unreadable(b: CaseBed, id: string): () => void {
  const file = b.at(id, 'manifest.json');
  if (!isRoot()) {
    chmodSync(file, 0o000);
    return () => chmodSync(file, 0o640);
  }
  return swapForLink(b, file, join(b.sentinel, 'manifest.json'));
}

export const hostileLinkCases: FaultCase[] = [
  cliCase('the destination root is a link (the fleet file names it)', "followed, as configuration: the link's folder is the destination; nothing written outside it", {}, async (b) => {
    const link = join(dirname(b.targets), 'dest-link');
    symlinkSync(b.fleet.destDir, link);
    const config = JSON.parse(readFileSync(b.fleet.fleetFile, 'utf8'));
    const file = join(b.fleet.dir, 'linked.yaml');
    writeFileSync(file, JSON.stringify({ ...config, destination: { type: 'local', path: link } }));
    const list = await runMeasured(['list', '--json', '--config', file]);
    const k = await runMeasured(['backup', '--id', 'set-10-next', '--config', file]);
    const p = await runMeasured(['prune', '--keep-last', '10', '--config', file]);
    const seen = list.code === 0 ? (JSON.parse(list.stdout).backupSets as { id: string; status: string }[]).filter((s) => s.status === 'complete').map((s) => s.id) : [];
    return {
      observed: `${said(['list', list], ['backup', k], ['prune', p])}; ${seen.length} complete sets seen through the link`,
      problems: [okProblem('list', list), seen.join() === b.sets.join() ? '' : `through the link: ${seen.join(', ')}`, okProblem('backup', k), existsSync(b.at('set-10-next', 'manifest.json')) ? '' : 'the backup is not in the destination folder', okProblem('prune', p)],
    };
  }),
  cliCase('a set folder that is a link to a copy of a real set outside the destination', 'not listed, not restored, not removed by prune or delete', {
    setup: (b) => cpSync(join(b.fleet.destDir, b.sets[0]), join(b.sentinel, 'set-copy'), { recursive: true }),
  }, async (b) => {
    symlinkSync(join(b.sentinel, 'set-copy'), b.at('set-9-linked'));
    const list = await b.cli('list', '--json');
    const r = await b.restore('set-9-linked', 'target');
    const d = await b.cli('delete', 'set-9-linked');
    const p = await b.cli('prune', '--keep-last', '1');
    const listed = list.stdout.includes('set-9-linked');
    return {
      observed: `${listed ? 'listed' : 'not listed'}; ${said(['restore', r], ['delete', d], ['prune', p])}`,
      problems: [listed ? 'the linked set is listed' : '', r.code === 0 ? 'the linked set was restored' : '', d.code === 0 ? 'delete of the linked set exited 0' : '', okProblem('prune', p)],
      removed: b.sets.slice(0, -1),
    };
  }),
  destinationLinkCase("the first set's node folder is a link into the sentinel", (b) => b.at(b.sets[0], 'f1'), (b) => b.sentinel),
  destinationLinkCase("the newest set's files role folder is a link into the sentinel", (b) => b.at(newest(b), 'f1', 'files'), (b) => b.sentinel),
  destinationLinkCase('a stored attachment is a link to a sentinel file', (b) => b.at(b.sets[0], 'f1', 'files', 'data', 'd0', 'e0', 'att-0'), (b) => join(b.sentinel, 'keep-me')),
  destinationLinkCase("the newest set's part.json is a link to a sentinel file", (b) => b.at(newest(b), 'f1', 'part.json'), (b) => join(b.sentinel, 'part.json')),
  destinationLinkCase("the newest set's listing is a link to a sentinel file", (b) => b.at(newest(b), 'f1', 'files', 'listing.ndjson'), (b) => join(b.sentinel, 'keep-me')),
  destinationLinkCase("the newest set's manifest.json is a link to a sentinel file (a read error that lasts)", (b) => b.at(newest(b), 'manifest.json'), (b) => join(b.sentinel, 'manifest.json'), { prune: 'refused' }),
  cliCase("pruned.json in the first set is a link to a sentinel file", 'the set unreadable: prune --keep-last 1 refuses and removes nothing', { phase: 'retention' }, async (b) => {
    symlinkSync(join(b.sentinel, 'keep-me'), b.at(b.sets[0], 'pruned.json'));
    const p = await b.cli('prune', '--keep-last', '1');
    rmSync(b.at(b.sets[0], 'pruned.json'));
    return { observed: said(['prune', p]), problems: [refusedProblem('prune', p, /cannot be read|unreadable|symbolic link/)] };
  }),
  cliCase('tandem-lock.json is a link to a sentinel file', 'backup and prune refused; nothing written through the link', {}, async (b) => {
    symlinkSync(join(b.sentinel, 'keep-me'), b.at(DESTINATION_LOCK_FILE));
    const k = await b.cli('backup', '--id', 'set-10-next');
    const p = await b.cli('prune', '--keep-last', '1');
    rmSync(b.at(DESTINATION_LOCK_FILE));
    return { observed: said(['backup', k], ['prune', p]), problems: [refusedProblem('backup', k, LINK), refusedProblem('prune', p, LINK)] };
  }),

  // Files restore targets.
  targetLinkCase('the files restore target is a link into the sentinel', 'refused: the load walks the target from / without following a link, nothing written through it', (b) => {
    symlinkSync(b.sentinel, join(b.targets, 'target'));
    return join(b.targets, 'target');
  }, /--files-target \S+ \(\S+\) is outside the folders this agent may restore into/),
  targetLinkCase("a parent of the files restore target is a link into the sentinel", 'refused: the load walks the target from / without following a link', (b) => {
    symlinkSync(b.sentinel, join(b.targets, 'parent'));
    return join(b.targets, 'parent', 'sub');
  }, /--files-target \S+ \(\S+\) is outside the folders this agent may restore into/),
  targetLinkCase('a folder in the files restore target is a link into the sentinel, with --files-clean', 'not followed: nothing written or removed in the sentinel', (b) => {
    mkdirSync(join(b.targets, 'target'));
    symlinkSync(b.sentinel, join(b.targets, 'target', 'd0'));
    return join(b.targets, 'target');
  }, null, '--files-clean'),
  targetLinkCase('a file in the files restore target is a link to a sentinel file', 'replaced by the restored file, never written through', (b) => {
    mkdirSync(join(b.targets, 'target', 'd0', 'e0'), { recursive: true });
    symlinkSync(join(b.sentinel, 'keep-me'), join(b.targets, 'target', 'd0', 'e0', 'att-0'));
    return join(b.targets, 'target');
  }, null),
  cliCase('a folder of the files restore target swapped for a link into the sentinel during a long load', 'nothing written through the link: the load refuses it or writes beside it', { storeFiles: 6000, phase: 'restore:load' }, async (b) => {
    const target = join(b.targets, 'target');
    const restoring = b.restore(newest(b), 'target');
    let done = false;
    void restoring.then(() => (done = true));
    // d5 holds 600 attachments: the swap lands while the load fills it or the folders after it.
    const started = await until(() => existsSync(join(target, 'd5')) && readdirSync(join(target, 'd5')).length > 0);
    const during = started && !done;
    if (started) {
      renameSync(join(target, 'd5'), join(b.targets, 'd5-aside'));
      symlinkSync(b.sentinel, join(target, 'd5'));
    }
    const r = await restoring;
    return {
      observed: `${during ? 'swapped while the load ran' : started ? 'the load ended before the swap' : 'the load never reached d5'}; ${said(['restore', r])}`,
      problems: [during ? '' : 'the swap did not happen during the load: make the store larger'],
    };
  }),

  // Locks and read errors.
  cliCase('two coordinators with other state folders prune during an incremental backup', 'both refused at once naming the holder; the backup completes on its parent; 0 sets lost', { shipMs: 6000, phase: 'retention' }, async (b) => {
    const backup = b.cli('backup', '--id', 'set-10-next');
    const locked = await until(() => existsSync(b.at(DESTINATION_LOCK_FILE)));
    const others = [await otherFleetFile(b.fleet, 'coordinator-b'), await otherFleetFile(b.fleet, 'coordinator-c')];
    const t0 = Date.now();
    const prunes = await Promise.all(others.map((f) => runMeasured(['prune', '--keep-last', '1', '--config', f])));
    const ms = Date.now() - t0;
    const k = await backup;
    const holder = new RegExp(`another tandem backup holds the destination lock .*state folder ${b.fleet.coordinatorDir.replace(/[.]/g, '\\.')}`);
    const parent = k.code === 0 ? parentOf(b, 'set-10-next') : null;
    return {
      observed: `${said(['prune b', prunes[0]], ['prune c', prunes[1]], ['backup', k])}; refused in ${ms} ms; parent ${parent}`,
      problems: [
        locked ? '' : 'the backup never took the destination lock',
        ...prunes.map((p, i) => refusedProblem(`prune ${'bc'[i]}`, p, holder)),
        ms < 5000 ? '' : `the prunes took ${ms} ms: not refused at once`,
        okProblem('backup', k),
        parent === newest(b) ? '' : `the backup built on ${parent}, not ${newest(b)}`,
      ],
    };
  }),
  cliCase('a manifest unreadable for a moment while prune --keep-last 10 reads the sets', 'read again (3 attempts): the set is complete, the prune removes nothing, exit 0', { sets: 3, phase: 'retention' }, async (b) => {
    const undo = unreadable(b, b.sets[0]);
    const pruning = b.cli('prune', '--keep-last', '10');
    const locked = await until(() => existsSync(b.at(DESTINATION_LOCK_FILE)));
    // The scan starts once the lock is held; its attempts are 0.5 s and 1 s apart: the second fails too, the third reads.
    const t0 = Date.now();
    await sleep(700);
    undo();
    const p = await pruning;
    // Without a failed read the scan of three sets takes well under 0.5 s; with one, the pause before the next attempt alone is 0.5 s.
    const ms = Date.now() - t0;
    return {
      observed: `${locked ? 'readable again 0.7 s after the lock was taken' : 'the lock was never seen'}; ${said(['prune', p])}, ${ms} ms after the lock`,
      problems: [locked ? '' : 'the prune never took the lock', okProblem('prune', p), ms >= 500 ? '' : `the prune ended ${ms} ms after the lock: it read no error, so the case tried nothing`],
    };
  }),
  cliCase('a manifest unreadable for the whole prune --keep-last 1', 'prune refuses: exit 1 naming the unreadable set, nothing removed', { sets: 3, phase: 'retention' }, async (b) => {
    const undo = unreadable(b, b.sets[0]);
    try {
      const p = await b.cli('prune', '--keep-last', '1');
      return { observed: said(['prune', p]), problems: [refusedProblem('prune', p, new RegExp(b.sets[0]))] };
    } finally {
      undo();
    }
  }),
];
