/** The systemd drop-in made from an agent's configuration opens exactly the folders it names. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadAgentConfig } from '../../agent/config';
import { systemdDropIn, writablePaths } from '../../agent/systemd';
import { scratchDirSync } from '../helpers/scratch';

const dir = scratchDirSync('systemd');
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('every folder the configuration names, once, and nothing else', () => {
  const conf = file('agent.yaml', [
    'node: cass1',
    'listen: 0.0.0.0:7400',
    'stateDir: /var/lib/tandem-agent',
    'writablePaths: [/mnt/backups, /srv/restore]',
    'roles:',
    '  cassandra: {dataDir: /data/cassandra}',
    '  elasticsearch: {url: "http://127.0.0.1:9200", repository: tandem, theHiveConfig: /etc/thehive/application.conf}',
    '  files: {store: localfs, location: /srv/thehive/files}',
    '',
  ].join('\n'));
  const config = loadAgentConfig(conf);
  assert.equal(writablePaths(config).map((p) => p.path), ['/var/lib/tandem-agent', '/data/cassandra', '/etc/thehive', '/srv/thehive/files', '/mnt/backups', '/srv/restore']);
  const text = systemdDropIn(config, conf);
  const lines = text.split('\n').filter((l) => !l.startsWith('#') && l);
  assert.equal(lines, ['[Service]', 'ReadWritePaths=', ...writablePaths(config).map((p) => `ReadWritePaths=-${p.path}`)]);
});

test('writablePaths must be absolute, normalised folders', () => {
  const conf = file('bad.yaml', 'node: a\nlisten: 127.0.0.1:1\nwritablePaths: [relative/x]\nroles: {cassandra: {}}\n');
  assert.throws(() => loadAgentConfig(conf), /writablePaths\.0: must be an absolute/);
});

test('the shipped unit keeps the file system read-only but for the state and the standard folders', () => {
  const unit = readFileSync(join(__dirname, '..', '..', '..', 'systemd', 'tandem-agent.service'), 'utf8');
  assert.match(unit, /^ProtectSystem=strict$/m);
  const rw = unit.split('\n').filter((l) => l.startsWith('ReadWritePaths='));
  assert.equal(rw, ['ReadWritePaths=/var/lib/tandem-agent -/var/lib/cassandra/data -/opt/thp/thehive/files']);
  assert.match(unit, /--print-systemd-paths/);
});

test.run();
