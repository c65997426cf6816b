import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fleetConfigSchema } from '../../coordinator/config';
import { coordinatorDropIn, coordinatorWritablePaths } from '../../coordinator/systemd';

const fleet = (extra: Record<string, unknown>) =>
  fleetConfigSchema.parse({
    agents: [{ node: 'n1', address: '127.0.0.1:7443', roles: ['cassandra'] }],
    signing: { key: '/etc/tandem/signing.key' },
    destination: { type: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'backups' },
    ...extra,
  });

test('a local destination and a stateDir elsewhere are opened by the drop-in, and nothing else', () => {
  const f = fleet({ destination: { type: 'local', path: '/mnt/nfs/tandem' }, stateDir: '/srv/tandem-state' });
  assert.equal(coordinatorWritablePaths(f).map((p) => p.path), ['/srv/tandem-state', '/mnt/nfs/tandem']);
  const text = coordinatorDropIn(f, '/etc/tandem/fleet.yaml');
  assert.match(text, /^\[Service\]$/m);
  assert.equal(text.split('\n').filter((l) => l.startsWith('ReadWritePaths=')), ['ReadWritePaths=/srv/tandem-state', 'ReadWritePaths=/mnt/nfs/tandem']);
});

test('an S3 destination with the default stateDir needs no folder opened', () => {
  const f = fleet({});
  assert.equal(coordinatorWritablePaths(f), []);
  assert.not.match(coordinatorDropIn(f, 'fleet.yaml'), /^ReadWritePaths=/m);
});

test.run();
