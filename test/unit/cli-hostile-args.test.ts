/**
 * Every id and name given to the CLI is checked before anything else happens, --dry-run
 * included: a hostile value is a usage error (exit 2) naming the option, before the fleet file is
 * even read (it does not exist here, so a check that came later would say "cannot read
 * configuration"), and `certs issue` creates nothing. Each verb is called in process for every
 * hostile value; the compiled CLI is spawned for raw non-UTF-8 bytes, empty values and exit codes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { backupCommand } from '../../coordinator/cli/backup';
import { certsCommand } from '../../coordinator/cli/certs';
import { adoptCommand } from '../../coordinator/cli/adopt';
import { UsageError } from '../../coordinator/cli/common';
import { drillCommand } from '../../coordinator/cli/drill';
import { showCommand } from '../../coordinator/cli/show';
import { reportCommand } from '../../coordinator/cli/report';
import { restoreCommand } from '../../coordinator/cli/restore';
import { verifyCommand } from '../../coordinator/cli/verify';
import { scratchDirSync } from '../helpers/scratch';

const CLI = join(__dirname, '..', '..', 'coordinator', 'main.js');
const root = scratchDirSync('cli-args');
const config = join(root, 'no-such-fleet.yaml');
const OK_ID = 'tandem-20250101t000000z-abcdef';

/** Hostile values; a Buffer is passed as raw bytes (latin1, not UTF-8). NUL cannot be in argv. */
const HOSTILE: { label: string; value: string | Buffer }[] = [
  { label: 'semicolon', value: 'a;rm -rf x' },
  { label: 'command substitution', value: '$(touch x)' },
  { label: 'backticks', value: '`touch x`' },
  { label: 'traversal', value: '../x' },
  { label: 'leading dash', value: '-x' },
  { label: '300 characters', value: 'a'.repeat(300) },
  { label: 'non-UTF-8 bytes', value: Buffer.from('caf\xe9-\xff', 'latin1') },
  { label: 'empty', value: '' },
];

/** Runs the CLI; Buffer arguments go through sh's printf so that they reach argv as raw bytes. */
function run(args: (string | Buffer)[]): Promise<{ code: number | null; stderr: string }> {
  let child;
  if (args.some((a) => Buffer.isBuffer(a))) {
    const octal = (b: Buffer) => [...b].map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('');
    const words = args.map((a, i) => (Buffer.isBuffer(a) ? `"$(printf '${octal(a)}')"` : `"$${i + 2}"`));
    child = spawn('/bin/sh', ['-c', `exec "$0" "$1" ${words.join(' ')}`, process.execPath, CLI, ...args.map((a) => (Buffer.isBuffer(a) ? '' : a))], { stdio: ['ignore', 'ignore', 'pipe'] });
  } else {
    child = spawn(process.execPath, [CLI, ...(args as string[])], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/** Each place an id or a name goes: the argv around the value, and what the error must name. */
const PLACES: { where: string; argv: (v: string | Buffer) => (string | Buffer)[]; names: RegExp }[] = [
  { where: 'backup --id', argv: (v) => ['backup', '--config', config, ...(Buffer.isBuffer(v) ? ['--id', v] : [`--id=${v}`])], names: /--id/ },
  { where: 'restore ID --dry-run', argv: (v) => ['restore', '--config', config, '--dry-run', '--', v], names: /restore: backup id/ },
  { where: 'restore --restore-id', argv: (v) => ['restore', '--config', config, '--dry-run', '--restore-id', v, OK_ID], names: /--restore-id/ },
  { where: 'restore --target-keyspace', argv: (v) => ['restore', '--config', config, '--dry-run', '--target-keyspace', v, OK_ID], names: /--target-keyspace/ },
  { where: 'restore --index-prefix', argv: (v) => ['restore', '--config', config, '--dry-run', '--index-prefix', v, OK_ID], names: /--index-prefix/ },
  { where: 'restore --files-target', argv: (v) => ['restore', '--config', config, '--dry-run', '--files-target', v, OK_ID], names: /--files-target/ },
  { where: 'restore --replication', argv: (v) => ['restore', '--config', config, '--dry-run', '--replication', v, OK_ID], names: /--replication/ },
  { where: 'verify ID', argv: (v) => ['verify', '--config', config, '--', v], names: /verify: backup id/ },
  { where: 'show ID', argv: (v) => ['show', '--config', config, '--', v], names: /show: backup id/ },
  { where: 'report ID', argv: (v) => ['report', '--config', config, '--html', join(root, 'r.html'), '--', v], names: /report: backup id/ },
  { where: 'drill ID', argv: (v) => ['drill', '--config', config, '--', v], names: /drill: backup id/ },
  { where: 'drill --scratch-dir', argv: (v) => ['drill', '--config', config, '--scratch-dir', v, 'latest'], names: /--scratch-dir/ },
  { where: 'certs issue --name', argv: (v) => ['certs', 'issue', '--dir', join(root, 'pki'), '--kind', 'agent', '--name', v], names: /--name/ },
  { where: 'certs signing --name', argv: (v) => ['certs', 'signing', '--dir', join(root, 'pki'), '--name', v], names: /--name/ },
  { where: 'adopt ID', argv: (v) => ['adopt', '--config', config, '--', v], names: /adopt: backup id/ },
];

const VERBS: Record<string, (argv: string[]) => Promise<number>> = {
  backup: backupCommand, restore: restoreCommand, verify: verifyCommand, show: showCommand, drill: drillCommand, certs: certsCommand, report: reportCommand, adopt: adoptCommand,
};

/** What the raw bytes become in process.argv: Node decodes argv as UTF-8. */
const asArgv = (v: string | Buffer) => (Buffer.isBuffer(v) ? v.toString('utf8') : v);

for (const place of PLACES) {
  test(`${place.where}: every hostile value is refused naming it, before anything else`, async () => {
    for (const h of HOSTILE) {
      const [verb, ...rest] = place.argv(h.value).map(asArgv);
      const err = await VERBS[verb](rest).then(() => null, (e: Error) => e);
      assert.ok(err, `${place.where} ${h.label}: accepted`);
      // A value given as "--opt VALUE" that starts with '-' is refused by the argument parser itself.
      if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) continue;
      assert.instance(err, UsageError, `${place.where} ${h.label}: ${err!.message}`);
      assert.match(err!.message, place.names, `${place.where} ${h.label}: ${err!.message}`);
    }
    assert.not.ok(existsSync(join(root, 'pki')), 'certs issue created its folder');
  });
}

test('the compiled CLI: raw non-UTF-8 bytes in argv exit 2 naming the option, the fleet file unread', async () => {
  const bytes = HOSTILE.find((h) => Buffer.isBuffer(h.value))!.value;
  const results = await Promise.all(PLACES.map(async (place) => ({ place, r: await run(place.argv(bytes)) })));
  for (const { place, r } of results) {
    assert.is(r.code, 2, `${place.where}: exit ${r.code}: ${r.stderr}`);
    assert.not.match(r.stderr, /cannot read configuration/, `${place.where}: the fleet file was read first`);
    assert.match(r.stderr, place.names, `${place.where}: ${r.stderr}`);
  }
  assert.not.ok(existsSync(join(root, 'pki')), 'certs issue created its folder');
});

test('an empty --id= or --compression= is an error, not a default', async () => {
  for (const arg of ['--id=', '--compression=']) {
    const r = await run(['backup', '--config', config, arg]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(arg.slice(0, -1)));
  }
});

test('valid ids and names pass the checks (the missing fleet file is the next error)', async () => {
  for (const args of [
    ['backup', '--config', config, `--id=${OK_ID}`],
    ['restore', '--config', config, '--dry-run', '--restore-id', 'restore-1', '--target-keyspace', 'thehive_copy', '--index-prefix', 'copy-', '--files-target', '/srv/restore', '--replication', 'dc1:3', OK_ID],
    ['verify', '--config', config, OK_ID],
    ['show', '--config', config, OK_ID],
    ['report', '--config', config, '--html', join(root, 'r.html'), '--svg', join(root, 'r.svg'), OK_ID],
    ['restore', '--config', config, '--dry-run', '--report', join(root, 'restore.html'), OK_ID],
    ['drill', '--config', config, '--report', join(root, 'drill.html'), 'latest'],
    ['drill', '--config', config, '--scratch-dir', '/var/tmp/drill', 'latest'],
  ]) {
    const r = await run(args);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot read configuration/, `${args.join(' ')}: ${r.stderr}`);
  }
});

test.run();
