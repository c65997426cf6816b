/**
 * npm run sandbox -- up | down [--wipe] | status | seed [--size 5MB] | writer start|stop|run | agents restart | env
 */
import { startAgents, stopAgents } from './fleet';
import { sandboxDown, sandboxStatus, sandboxUp, seedSandbox } from './index';
import { readSandboxEnv } from './paths';
import { runWriter, startWriter, stopWriter } from './writer';

const USAGE = 'usage: sandbox up | down [--wipe] | status | seed [--size 5MB|2GB] | writer start|stop | agents restart | env';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      await sandboxUp();
      return 0;
    }
    case 'down': {
      await sandboxDown({ wipe: rest.includes('--wipe') });
      return 0;
    }
    case 'status': {
      const s = await sandboxStatus();
      process.stdout.write(`${s.cassandra.text.trim()}\n\n`);
      const line = (name: string, ok: boolean, extra = '') => process.stdout.write(`${ok ? 'OK  ' : 'DOWN'} ${name}${extra}\n`);
      line('cassandra', s.cassandra.ok, ` ${JSON.stringify(s.cassandra.states)}`);
      line('elasticsearch', s.elasticsearch.ok, ` health=${s.elasticsearch.health}`);
      line('minio', s.minio.ok);
      line('sshd', s.sshd.ok);
      process.stdout.write(`writer: ${s.writer.running ? 'running' : 'stopped'}\n`);
      return s.ok ? 0 : 1;
    }
    case 'seed': {
      const i = rest.indexOf('--size');
      const size = i >= 0 ? rest[i + 1] : undefined;
      if (i >= 0 && !size) throw new Error('--size needs a value, e.g. 5MB');
      const r = await seedSandbox(size ?? '5MB');
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return 0;
    }
    case 'writer': {
      const sub = rest[0];
      if (sub === 'start') {
        process.stdout.write(`writer running, pid ${await startWriter()}\n`);
        return 0;
      }
      if (sub === 'stop') {
        process.stdout.write((await stopWriter()) ? 'writer stopped\n' : 'writer was not running\n');
        return 0;
      }
      if (sub === 'run') {
        // The daemon body: stop cleanly after the record in flight on SIGTERM/SIGINT.
        const ac = new AbortController();
        process.once('SIGTERM', () => ac.abort());
        process.once('SIGINT', () => ac.abort());
        const n = await runWriter({ signal: ac.signal });
        process.stderr.write(`writer wrote ${n} records\n`);
        return 0;
      }
      break;
    }
    case 'agents': {
      // After a rebuild: the agents run the code they started with.
      if (rest[0] !== 'restart') break;
      await stopAgents();
      await startAgents((m) => process.stdout.write(`${m}\n`));
      return 0;
    }
    case 'env': {
      process.stdout.write(`${JSON.stringify(readSandboxEnv(), null, 2)}\n`);
      return 0;
    }
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sandbox: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
