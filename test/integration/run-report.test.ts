/**
 * Run reports end to end: a real backup of a rehearsal fleet (three agents, mutual TLS, the real
 * CLI) records every node's timeline and the coordinator's phases; `tandem report` draws them as
 * a page that headless Chromium renders (a screenshot that is a real picture, the nodes and the
 * phases in its DOM); `restore --report` and `drill --report` draw a restore's phases.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCommand } from '../../shared/exec';
import { manifestSchema } from '../../shared/manifest';
import { makeFleet, removeFleet, runCli, startFleet, type TestFleet } from '../helpers/fleet';
import { readPng } from '../helpers/png';
import { resignManifest } from '../helpers/signing';

const ROOT = resolve(__dirname, '../../..');
const ID = 'report-0001';
const NODES = ['node1', 'node2', 'node3'];
let fleet: TestFleet;

test.before(async () => {
  fleet = await makeFleet(NODES.map((node) => ({ node, roles: { rehearsal: { shipMs: 400, restoreMs: 50 } } })));
  await startFleet(fleet);
});
test.after(async () => {
  if (fleet) await removeFleet(fleet);
});

/** The headless Chromium that test/tools/chromium.sh finds (or installs from Debian's packages). */
async function chromium(): Promise<string> {
  const r = await runCommand(['bash', join(ROOT, 'test/tools/chromium.sh')], { timeoutMs: 600_000 });
  return r.stdout.trim();
}

/** Runs headless Chromium on a page with a profile of its own; root needs --no-sandbox. */
function browse(bin: string, page: string, args: string[]) {
  return runCommand([bin, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${join(fleet.dir, 'chromium-profile')}`, ...args, pathToFileURL(page).href], { timeoutMs: 120_000 });
}

const manifestOf = (id: string) => manifestSchema.parse(JSON.parse(readFileSync(join(fleet.destDir, id, 'manifest.json'), 'utf8')));

test("a backup's --json has the coordinator's phases; its manifest, every node's timeline", async () => {
  const r = await runCli(['backup', '--config', fleet.fleetFile, '--id', ID, '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { status: string; durationMs: number; phasesMs: Record<string, number> };
  assert.is(out.status, 'complete');
  assert.equal(Object.keys(out.phasesMs), ['preflight', 'prepare', 'commit', 'shipping', 'manifest']);
  for (const [phase, ms] of Object.entries(out.phasesMs)) assert.ok(Number.isInteger(ms) && ms >= 0, `${phase}: ${ms}`);
  const sum = Object.values(out.phasesMs).reduce((a, b) => a + b, 0);
  assert.ok(sum <= out.durationMs, `phases ${sum} ms within the run's ${out.durationMs} ms`);
  // Each rehearsal node ships for 400 ms: shipping cannot have taken less.
  assert.ok(out.phasesMs.shipping >= 400, `shipping ${out.phasesMs.shipping} ms`);

  const m = manifestOf(ID);
  assert.equal(m.phases?.map((p) => p.phase), ['preflight', 'prepare', 'commit', 'shipping', 'manifest']);
  for (const n of m.nodes) {
    const phases = n.timeline!.map((s) => (s.role ? `${s.phase}:${s.role}` : s.phase));
    assert.equal(phases, ['prepare', 'cut:rehearsal', 'commit', 'copy:rehearsal', 'ship:rehearsal', 'finish'], n.node);
    const copy = n.timeline!.find((s) => s.phase === 'copy')!;
    assert.is(copy.files, 1);
    assert.ok(copy.endedAt - copy.startedAt >= 400, `${n.node} copy took ${copy.endedAt - copy.startedAt} ms`);
    // The spans follow one another on the agent's clock.
    const at = (p: string) => n.timeline!.find((s) => s.phase === p)!;
    assert.ok(at('prepare').endedAt <= at('commit').startedAt && at('commit').endedAt <= at('ship').startedAt && at('ship').endedAt <= at('finish').endedAt);
    assert.ok(at('cut').startedAt <= n.commits.rehearsal!.cutAt && n.commits.rehearsal!.cutAt <= at('cut').endedAt);
  }
  // part.json carries the same timeline (without the finish, which the coordinator adds).
  const part = JSON.parse(readFileSync(join(fleet.destDir, ID, 'node1', 'part.json'), 'utf8')) as { timeline: unknown[] };
  assert.equal(part.timeline, m.nodes.find((n) => n.node === 'node1')!.timeline!.slice(0, -1));
});

test('tandem report writes a page and an SVG that headless Chromium renders', async () => {
  const html = join(fleet.dir, 'report.html');
  const svg = join(fleet.dir, 'report.svg');
  const r = await runCli(['report', ID, '--config', fleet.fleetFile, '--html', html, '--svg', svg]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, `written to ${html}`);
  const page = readFileSync(html, 'utf8');
  assert.not.match(page, /<script|src=|href=|@import|url\(/i, 'the page loads nothing and runs nothing');
  assert.match(readFileSync(svg, 'utf8'), /^<\?xml[^>]*\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);

  const bin = await chromium();
  const png = join(fleet.dir, 'report.png');
  await browse(bin, html, [`--screenshot=${png}`, '--window-size=1280,1400']);
  assert.ok(existsSync(png), 'no screenshot');
  const facts = readPng(readFileSync(png));
  assert.equal([facts.width, facts.height], [1280, 1400]);
  // A blank or single-colour page has one or two; the timeline has a colour per kind of bar, and text.
  assert.ok(facts.colours > 20, `${facts.colours} colours`);

  const dom = (await browse(bin, html, ['--dump-dom'])).stdout;
  for (const text of [...NODES, 'coordinator', 'prepare', 'commit', 'shipping', 'manifest', 'ship rehearsal', 'rehearsal copy', 'the cut, zoomed', 'Every span']) {
    assert.ok(dom.includes(`>${text}`), `"${text}" is not in the rendered page`);
  }
});

test('a set without a timeline is drawn with what it has, saying so', async () => {
  const id = 'report-0002';
  assert.is((await runCli(['backup', '--config', fleet.fleetFile, '--id', id])).code, 0);
  // As a set written before the timeline existed: no node timeline, no phases.
  const file = join(fleet.destDir, id, 'manifest.json');
  const old = JSON.parse(readFileSync(file, 'utf8')) as { phases?: unknown; nodes: { timeline?: unknown }[] };
  delete old.phases;
  for (const n of old.nodes) delete n.timeline;
  writeFileSync(file, JSON.stringify(old));
  resignManifest(fleet.destDir, id, fleet.signing.key);
  const html = join(fleet.dir, 'old.html');
  const r = await runCli(['report', id, '--config', fleet.fleetFile, '--html', html]);
  assert.is(r.code, 0, r.stderr);
  const page = readFileSync(html, 'utf8');
  for (const node of NODES) assert.match(page, `${node}: timeline not recorded`);
  assert.match(page, 'phases were not recorded for this set');
  assert.match(page, 'rehearsal cut', 'the cut instants are still drawn');
});

test('report: an unknown id, a missing or doubled output exit 2 naming the problem', async () => {
  const out = join(fleet.dir, 'x.html');
  const unknown = await runCli(['report', 'no-such-set', '--config', fleet.fleetFile, '--html', out]);
  assert.is(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /no backup set no-such-set/);
  const none = await runCli(['report', ID, '--config', fleet.fleetFile]);
  assert.is(none.code, 2, none.stderr);
  assert.match(none.stderr, /--html/);
  const same = await runCli(['report', ID, '--config', fleet.fleetFile, '--html', out, '--svg', out]);
  assert.is(same.code, 2, same.stderr);
  const folder = await runCli(['report', ID, '--config', fleet.fleetFile, '--html', `${fleet.dir}/`]);
  assert.is(folder.code, 2, folder.stderr);
  assert.match(folder.stderr, /--html: .* is a folder/);
  assert.not.ok(existsSync(out));
  const help = await runCli(['report', '--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /Usage: tandem report ID --html FILE/);
});

test('restore --report and drill --report draw each phase on each node', async () => {
  const restored = join(fleet.dir, 'restore.html');
  const r = await runCli(['restore', ID, '--config', fleet.fleetFile, '--yes', '--report', restored]);
  assert.is(r.code, 0, r.stderr);
  const page = readFileSync(restored, 'utf8');
  for (const text of [...NODES, 'fetch', 'schema', 'load', 'verify', 'cleanup', 'restored and verified', `Restore restore-`]) assert.match(page, text);

  const drilled = join(fleet.dir, 'drill.html');
  const d = await runCli(['drill', 'latest', '--config', fleet.fleetFile, '--scratch-dir', join(fleet.dir, 'scratch'), '--report', drilled]);
  assert.is(d.code, 0, d.stderr);
  const drill = readFileSync(drilled, 'utf8');
  assert.match(drill, /Drill drill-[^ ]+ of report-000/);
  assert.match(drill, 'rehearsal: rehearsal verify', "the roles' words are in the table");
});

test.run();
