/**
 * `tandem certs init|issue|signing`: a CA and per-node certificates for a fleet, made with openssl
 * (argv only). Agent certificates are for serverAuth only and the coordinator's for clientAuth
 * only, so an agent's key cannot be used to drive other agents. `signing` makes the Ed25519 key
 * pair that signs the backup sets (node:crypto, no openssl needed).
 */
import { mkdir, rm, access, writeFile, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCommand } from '../../shared/exec';
import { checkNodeName } from '../../shared/names';
import { generateSigningKeyPair } from '../../shared/signing';
import { checkArg, EXIT, UsageError, say } from './common';

export const CERTS_HELP = `Usage: tandem certs init --dir DIR
       tandem certs issue --dir DIR --name NODE --kind agent|coordinator [--host HOST_OR_IP]...
       tandem certs signing --dir DIR [--name NAME]

init   creates DIR/ca.key and DIR/ca.crt (EC P-256, 10 years). Keep ca.key offline.
issue  creates DIR/NODE.key and DIR/NODE.crt signed by the CA (825 days). An agent's
       certificate names the node (CN and DNS SAN) plus every --host; the coordinator checks
       that name, so the agent at an address must be the node the fleet file says.
signing creates DIR/NAME.key (mode 600) and DIR/NAME.pub (mode 644), the Ed25519 key pair
       that signs every backup set (NAME default signing). Only the coordinator's host holds
       NAME.key: set signing.key to it in the fleet file. After a rotation, list the old
       NAME.pub in signing.trusted until the sets it signed are pruned.

Options:
      --dir DIR       folder of the CA and certificates (created with mode 700)
      --name NODE     node name as in the fleet file (agent) or the coordinator's name, which
                      agents accept only as their tls.coordinatorName (default coordinator);
                      for signing, the key files' name (default signing)
      --kind KIND     agent (serverAuth) or coordinator (clientAuth)
      --host H        extra DNS name or IP address for the agent's certificate (repeatable)
      --force         overwrite existing files
  -h, --help          this help`;

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+)$/;

/** Runs the verb; returns the exit code. */
export async function certsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      name: { type: 'string' },
      kind: { type: 'string' },
      host: { type: 'string', multiple: true, default: [] },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(CERTS_HELP), EXIT.ok;
  const [action] = positionals;
  if (!values.dir) throw new UsageError('certs: --dir is required');
  if (action !== 'init' && action !== 'issue' && action !== 'signing') throw new UsageError('certs: expected init, issue or signing (see tandem certs --help)');
  // Names are checked before anything is created.
  const name = action === 'issue' ? checkArg('certs issue: --name', values.name ?? '', checkNodeName)! : action === 'signing' ? checkArg('certs signing: --name', values.name ?? 'signing', checkNodeName)! : '';
  if (action === 'issue') {
    if (values.kind !== 'agent' && values.kind !== 'coordinator') throw new UsageError('certs issue: --kind must be agent or coordinator');
    for (const h of values.host!) if (!HOST.test(h)) throw new UsageError(`certs issue: invalid --host ${JSON.stringify(h)}`);
  }
  const dir = resolve(values.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (action === 'init') {
    await refuseOverwrite([join(dir, 'ca.key'), join(dir, 'ca.crt')], values.force!);
    await initCa(dir);
    say(`created ${join(dir, 'ca.crt')} and ${join(dir, 'ca.key')}`);
    return EXIT.ok;
  }
  if (action === 'signing') {
    await refuseOverwrite([join(dir, `${name}.key`), join(dir, `${name}.pub`)], values.force!);
    const keyId = await createSigningKey(dir, name);
    say(`created ${join(dir, `${name}.key`)} and ${join(dir, `${name}.pub`)} (key id ${keyId})`);
    return EXIT.ok;
  }
  await refuseOverwrite([join(dir, `${name}.key`), join(dir, `${name}.crt`)], values.force!);
  await issueCert(dir, name, values.kind as 'agent' | 'coordinator', values.host!);
  say(`created ${join(dir, `${name}.crt`)} and ${join(dir, `${name}.key`)}`);
  return EXIT.ok;
}

async function refuseOverwrite(files: string[], force: boolean): Promise<void> {
  if (force) return;
  for (const f of files) {
    const exists = await access(f).then(() => true, () => false);
    if (exists) throw new UsageError(`${f} exists; use --force to replace it`);
  }
}

/** Creates `<dir>/<name>.key` (600) and `<dir>/<name>.pub` (644); returns the key id. */
export async function createSigningKey(dir: string, name = 'signing'): Promise<string> {
  const pair = generateSigningKeyPair();
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  // A new file, created 600 (an existing one, under --force, would keep its mode while the new key is written into it).
  await rm(key, { force: true });
  await writeFile(key, pair.privatePem, { mode: 0o600, flag: 'wx' });
  await chmod(key, 0o600);
  await writeFile(pub, pair.publicPem, { mode: 0o644 });
  await chmod(pub, 0o644);
  return pair.keyId;
}

/** Creates a self-signed CA for the fleet. */
export async function initCa(dir: string): Promise<void> {
  await runCommand([
    'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '3650', '-subj', '/CN=tandem fleet CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** Issues a certificate for an agent (serverAuth) or the coordinator (clientAuth). */
export async function issueCert(dir: string, name: string, kind: 'agent' | 'coordinator', hosts: string[]): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const san = [`DNS:${name}`, ...hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`))].join(',');
  await runCommand([
    'openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', csr, '-subj', `/CN=${name}`,
    '-addext', `subjectAltName=${san}`,
    '-addext', `extendedKeyUsage=${kind === 'agent' ? 'serverAuth' : 'clientAuth'}`,
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  try {
    await runCommand([
      'openssl', 'x509', '-req', '-in', csr, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
      '-CAcreateserial', '-days', '825', '-copy_extensions', 'copyall', '-out', join(dir, `${name}.crt`),
    ]);
  } finally {
    await rm(csr, { force: true });
  }
}
