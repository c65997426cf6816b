/**
 * `npm run bench -- age`: encrypt and decrypt rates of shared/age's stream Transforms on 256 MiB
 * of random bytes, in memory and file to file, beside the reference `age` v1.3.2 on the same files
 * (built by test/tools/age.sh) and a plain copy (the floor), plus a rotation of 10 sets' set keys
 * at a local folder. 3 rounds; the order of shared/age and the reference alternates between
 * rounds, so neither always gets the warmer page cache. Files are in the OS temp folder and not
 * fsynced: this measures the cipher and the stream plumbing, not the disk. No sandbox.
 * "per core" is MiB per CPU-second (user + system) of the process doing the work, threads and
 * children included. Not a test: it prints median and worst of the rounds.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rotateSetKeys, makeSetKey, writeSetKey } from '../../coordinator/keys';
import { decryptStream, encrypt, encryptStream, formatIdentityFile, generateIdentity } from '../../shared/age';
import { LocalDestination } from '../../shared/destination';
import { runCommand } from '../../shared/exec';
import { repoRoot } from '../sandbox/paths';
import { removeScratch, scratchDir } from '../helpers/scratch';
import { testSigning, testSigningKey } from '../helpers/signing';

const MIB = 1 << 20;
const SIZE = 256 * MIB;
const ROUNDS = 3;
/** Pieces fed to the streams: what a file read stream gives by default is 64 KiB; 1 MiB keeps the feeder out of the figures. */
const PIECE = MIB;

/** One row of the report. */
export interface AgeBenchRow {
  what: string;
  /** MiB/s over wall time, per round. */
  rates: number[];
  /** MiB per CPU-second, per round. */
  perCore: number[];
}

/** CPU seconds used so far by this process (every thread) and by its children that have exited. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  // /proc/self/stat fields 16 and 17 (cutime, cstime): children waited for, in clock ticks of 1/100 s.
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  const children = (Number(fields[13]) + Number(fields[14])) / 100;
  return (user + system) / 1e6 + children;
}

/** Times `fn`: wall seconds and CPU seconds. */
async function timed(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  await fn();
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSeconds() - cpu0 };
}

/** A Readable of `data` in PIECE-sized views (no copy). */
const pieces = (data: Buffer) => Readable.from((function* () {
  for (let i = 0; i < data.length; i += PIECE) yield data.subarray(i, i + PIECE);
})());

/** A sink that drops what it gets (the in-memory rows measure the transform, not a consumer). */
const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const worst = (xs: number[]) => Math.min(...xs);

/** Runs every row for ROUNDS rounds and the rotation; returns the rows and the rotation's seconds. */
export async function benchAge(): Promise<{ rows: AgeBenchRow[]; rotation: number[]; work: string }> {
  const bin = (await runCommand(['bash', join(repoRoot(), 'test', 'tools', 'age.sh')], { cwd: repoRoot(), timeoutMs: 10 * 60_000 })).stdout.trim();
  const work = await scratchDir('bench-age');
  try {
    const identity = generateIdentity();
    const recipient = identity.recipient.toString();
    const keyFile = join(work, 'key.txt');
    writeFileSync(keyFile, formatIdentityFile(identity), { mode: 0o600 });
    const plain = randomBytes(SIZE);
    const plainFile = join(work, 'plain.bin');
    writeFileSync(plainFile, plain);
    const sealed = encrypt([recipient], plain);
    const sealedFile = join(work, 'plain.bin.age');
    writeFileSync(sealedFile, sealed);
    const out = join(work, 'out');

    const fileToFile = (from: string, through: () => Transform) => pipeline(createReadStream(from, { highWaterMark: PIECE }), through(), createWriteStream(out));
    const rows: { what: string; run: () => Promise<unknown>; pair?: string }[] = [
      { what: 'plain copy, in memory (PassThrough)', run: () => pipeline(pieces(plain), new PassThrough(), sink()) },
      { what: 'shared/age encrypt, in memory', run: () => pipeline(pieces(plain), encryptStream([recipient]), sink()) },
      { what: 'shared/age decrypt, in memory', run: () => pipeline(pieces(sealed), decryptStream([identity]), sink()) },
      { what: 'plain copy, file to file (node streams)', run: () => fileToFile(plainFile, () => new PassThrough()) },
      { what: 'plain copy, file to file (cp)', run: () => runCommand(['cp', plainFile, out]) },
      { what: 'shared/age encrypt, file to file', pair: 'encrypt', run: () => fileToFile(plainFile, () => encryptStream([recipient])) },
      { what: 'age -e (reference v1.3.2), file to file', pair: 'encrypt', run: () => runCommand([join(bin, 'age'), '-e', '-r', recipient, '-o', out, plainFile]) },
      { what: 'shared/age decrypt, file to file', pair: 'decrypt', run: () => fileToFile(sealedFile, () => decryptStream([identity])) },
      { what: 'age -d (reference v1.3.2), file to file', pair: 'decrypt', run: () => runCommand([join(bin, 'age'), '-d', '-i', keyFile, '-o', out, sealedFile]) },
    ];
    const results = rows.map((r) => ({ what: r.what, rates: [] as number[], perCore: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      // Each pair (ours, the reference) runs in one order on even rounds and the other on odd ones.
      const order = rows.map((_, i) => i);
      if (round % 2 === 1) {
        for (const pair of ['encrypt', 'decrypt']) {
          const at = order.filter((i) => rows[i].pair === pair);
          [order[at[0]], order[at[1]]] = [order[at[1]], order[at[0]]];
        }
      }
      for (const i of order) {
        const t = await timed(rows[i].run);
        results[i].rates.push(SIZE / MIB / t.wall);
        results[i].perCore.push(SIZE / MIB / t.cpu);
      }
    }
    return { rows: results, rotation: await benchRotation(work), work };
  } finally {
    removeScratch(work);
  }
}

/** Seconds of a rotation (a recipient added, the old one removed) of 10 sets' set keys at a local folder, per round. */
async function benchRotation(work: string): Promise<number[]> {
  const seconds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const root = join(work, `rotation-${round}`);
    mkdirSync(root);
    const dest = new LocalDestination({ type: 'local', path: root });
    const [old, recovery, next] = [generateIdentity(), generateIdentity(), generateIdentity()];
    const before = [old.recipient.toString(), recovery.recipient.toString()];
    for (let i = 0; i < 10; i++) await writeSetKey(dest, `tandem-20261201t10${String(i).padStart(2, '0')}00z-b${round}`, makeSetKey(before).sealed, before, testSigningKey());
    const after = [next.recipient.toString(), recovery.recipient.toString()];
    const t = await timed(async () => {
      const done = await rotateSetKeys(dest, after, [old], testSigning());
      if (done.length !== 10 || done.some((o) => o.outcome !== 'resealed')) throw new Error(`rotation did not reseal every set: ${JSON.stringify(done)}`);
    });
    seconds.push(t.wall);
  }
  return seconds;
}

/** Prints the age bench. */
export async function ageBenchMain(): Promise<void> {
  console.log(`age: ${SIZE / MIB} MiB of random bytes, ${ROUNDS} rounds (shared/age and the reference alternate their order), files in the OS temp folder, not fsynced`);
  // Wall time on a shared machine depends on what else runs: MiB per CPU-second depends much less.
  const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`  ${availableParallelism()} CPUs, load average ${load()} before`);
  const { rows, rotation } = await benchAge();
  console.log(`  ${'what'.padEnd(44)} ${'median'.padStart(12)} ${'worst'.padStart(12)}  ${'per core (median)'.padStart(18)}  rounds (MiB/s)`);
  for (const r of rows) {
    console.log(`  ${r.what.padEnd(44)} ${median(r.rates).toFixed(0).padStart(6)} MiB/s ${worst(r.rates).toFixed(0).padStart(6)} MiB/s  ${median(r.perCore).toFixed(0).padStart(6)} MiB/cpu-s  ${r.rates.map((x) => x.toFixed(0)).join(' ')}`);
  }
  console.log(`  rotation of 10 sets' set keys (one recipient replaced), local folder: median ${median(rotation).toFixed(3)} s, worst ${Math.max(...rotation).toFixed(3)} s (target < 5 s)`);
  console.log(`  load average ${load()} after`);
}
