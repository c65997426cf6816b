#!/usr/bin/env node
/** tandem: the coordinator CLI of coordinated hot backups for TheHive clusters. */
// First: libuv sizes its thread pool from the environment on the first asynchronous file call.
import { printable } from '../shared/printable';
import { SYSTEMD_HELP, systemdCommand } from './cli/systemd';
import './threadpool';
import { silenceThirdPartyNotices } from '../shared/third-party-warnings';
import { TandemError, errorMessage } from '../shared/errors';
import { TANDEM_VERSION } from '../shared/version';
import { AGENTS_HELP, agentsCommand } from './cli/agents';
import { BACKUP_HELP, backupCommand } from './cli/backup';
import { CERTS_HELP, certsCommand } from './cli/certs';
import { KEYS_HELP, keysCommand } from './cli/keys';
import { EXIT } from './cli/common';
import { exitWhenFlushed } from './cli/exit';
import { LIST_HELP, listCommand } from './cli/list';
import { SHOW_HELP, showCommand } from './cli/show';
import { VERIFY_HELP, verifyCommand } from './cli/verify';
import { RESTORE_HELP, restoreCommand } from './cli/restore';
import { DRILL_HELP, drillCommand } from './cli/drill';
import { RECOVER_HELP, recoverCommand } from './cli/recover';
import { STATUS_HELP, statusCommand } from './cli/status';
import { PRUNE_HELP, pruneCommand } from './cli/prune';
import { DELETE_HELP, deleteCommand } from './cli/delete';
import { REPORT_HELP, reportCommand } from './cli/report';
import { ADOPT_HELP, adoptCommand } from './cli/adopt';

silenceThirdPartyNotices();

const VERBS: Record<string, { run: (argv: string[]) => Promise<number>; help: string; summary: string }> = {
  backup: { run: backupCommand, help: BACKUP_HELP, summary: 'take one coordinated backup set of the fleet' },
  list: { run: listCommand, help: LIST_HELP, summary: 'list the backup sets at the destination' },
  show: { run: showCommand, help: SHOW_HELP, summary: 'show one backup set' },
  verify: { run: verifyCommand, help: VERIFY_HELP, summary: 'check every part of a backup set against its manifest' },
  report: { run: reportCommand, help: REPORT_HELP, summary: "draw where a backup set's time went (HTML, SVG)" },
  restore: { run: restoreCommand, help: RESTORE_HELP, summary: 'restore a backup set (plan, confirm, phases with barriers)' },
  drill: { run: drillCommand, help: DRILL_HELP, summary: 'restore into a scratch target, verify, tear down' },
  prune: { run: pruneCommand, help: PRUNE_HELP, summary: 'remove the sets the retention policy does not keep' },
  delete: { run: deleteCommand, help: DELETE_HELP, summary: 'remove one backup set, keeping what other sets need' },
  adopt: { run: adoptCommand, help: ADOPT_HELP, summary: 'verify a set written before signing in full, then sign it' },
  recover: { run: recoverCommand, help: RECOVER_HELP, summary: 'finish or remove the backups of a coordinator that died' },
  status: { run: statusCommand, help: STATUS_HELP, summary: 'show the running backup, unfinished runs and the last one' },
  agents: { run: agentsCommand, help: AGENTS_HELP, summary: 'describe every agent (reachability, roles, clock)' },
  certs: { run: certsCommand, help: CERTS_HELP, summary: 'create the fleet CA, node certificates and the signing key' },
  keys: { run: keysCommand, help: KEYS_HELP, summary: 'create age identities, list and rotate the keys of encrypted sets' },
  systemd: { run: systemdCommand, help: SYSTEMD_HELP, summary: "print the drop-in opening the folders the coordinator's units write" },
};

const HELP = `tandem ${TANDEM_VERSION}: coordinated hot backups for TheHive clusters

Usage: tandem VERB [options]     (tandem VERB --help for a verb's options)

Verbs:
${Object.entries(VERBS).map(([v, d]) => `  ${v.padEnd(8)} ${d.summary}`).join('\n')}

Exit codes: 0 success, 1 the operation did not succeed (backup aborted or failed, or
another backup holds the lock), 2 usage or configuration error, 3 internal error, 130 interrupted.`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    console.log(rest[0] && VERBS[rest[0]] ? VERBS[rest[0]].help : HELP);
    return EXIT.ok;
  }
  if (verb === '--version' || verb === '-v') return void console.log(TANDEM_VERSION), EXIT.ok;
  const cmd = VERBS[verb];
  if (!cmd) {
    console.error(`tandem: unknown verb ${JSON.stringify(verb)}\n\n${HELP}`);
    return EXIT.usage;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (err) => {
    // Errors an operator can act on are printed plainly; anything else is a bug.
    const known = err instanceof TandemError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS');
    console.error(`tandem: ${printable(errorMessage(err))}`);
    if (!known) console.error((err as Error)?.stack ?? '');
    return exitWhenFlushed(known ? (err instanceof TandemError && !(err.name === 'UsageError' || err.name === 'ConfigError' || err.name === 'ValidationError') ? EXIT.failed : EXIT.usage) : EXIT.bug);
  },
);
