/**
 * The tandem-agent daemon on every Cassandra, Elasticsearch and file-storage host. It carries
 * out the local steps of a backup when the coordinator asks, over mutual TLS.
 */
import { parseArgs } from 'node:util';
import { errorMessage, TandemError } from '../shared/errors';
import { systemExec } from '../shared/exec';
import { createLogger } from '../shared/log';
import { silenceThirdPartyNotices } from '../shared/third-party-warnings';
import { TANDEM_VERSION } from '../shared/version';
import { loadAgentConfig } from './config';
import type { RolePlugin } from './roles/plugin';
import { createRoles } from './roles/registry';
import { serveAgent } from './serve';
import { systemdDropIn } from './systemd';

const HELP = `tandem-agent ${TANDEM_VERSION}: the tandem agent daemon (run by systemd: tandem-agent.service)

Usage: tandem-agent [--config FILE] [--insecure] [--print-systemd-paths]
       tandem-agent --check-config [FILE]

Options:
  -c, --config FILE   agent configuration (YAML); default /etc/tandem/agent.yaml
      --insecure      serve without TLS; allowed only when listening on a loopback address
      --check-config [FILE]
                      validate the configuration (FILE, else --config's), print it as
                      JSON and exit: 0 valid, 2 invalid
      --print-systemd-paths
                      print the systemd drop-in that lets the agent write the folders its
                      configuration names (and nothing else); see systemd/tandem-agent.service
  -h, --help          this help
  -v, --version       print the version

Signals: SIGTERM/SIGINT stop the agent gracefully (running steps are aborted and cleaned up
at the next start). Exit codes: 0 stopped, 2 configuration error, 1 any other failure.`;

/** Runs the daemon with the given role plug-ins until SIGTERM/SIGINT; returns the exit code. */
async function main(plugins: readonly RolePlugin[]): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      config: { type: 'string', short: 'c', default: '/etc/tandem/agent.yaml' },
      insecure: { type: 'boolean', default: false },
      'check-config': { type: 'boolean', default: false },
      'print-systemd-paths': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', short: 'v', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return void console.log(HELP), 0;
  if (values.version) return void console.log(TANDEM_VERSION), 0;
  if (positionals.length > (values['check-config'] ? 1 : 0)) throw new TandemError(`unexpected argument ${JSON.stringify(positionals.at(-1))}; see tandem-agent --help`);
  // `tandem-agent --check-config FILE` reads like `--config FILE --check-config`.
  if (positionals.length) values.config = positionals[0];
  const config = loadAgentConfig(values.config!, plugins);
  if (values['print-systemd-paths']) return void process.stdout.write(systemdDropIn(config, values.config!)), 0;
  if (!config.tls && !values.insecure) {
    throw new TandemError(`${values.config}: tls is required (ca, cert, key); use --insecure only for a loopback test setup`);
  }
  const roles = createRoles(plugins, config.roles, systemExec, { stateDir: config.stateDir });
  if (values['check-config']) return void console.log(JSON.stringify(config, null, 2)), 0;

  const log = createLogger('tandem-agent', { node: config.node });
  const agent = await serveAgent(config, roles, log, { insecure: values.insecure });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      void agent.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

/** Runs tandem-agent with these role plug-ins and exits with its code. */
export function runAgent(plugins: readonly RolePlugin[]): void {
  silenceThirdPartyNotices();
  main(plugins).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`tandem-agent: ${errorMessage(err)}`);
      // A configuration or usage error (a bad option included) is 2; anything else 1.
      const usage = err instanceof TandemError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS');
      process.exit(usage ? 2 : 1);
    },
  );
}
