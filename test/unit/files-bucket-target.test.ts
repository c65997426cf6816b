/** A files restore of a bucket set never loads into TheHive's live bucket for a drill or a --files-target restore. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBucketTarget } from '../../agent/roles/files/restore';
import type { RestoreContext } from '../../agent/roles/role';

const ctx = (store: 'localfs' | 's3' | null, options: Partial<RestoreContext['options']>) =>
  ({
    backupId: 'tandem-x',
    node: 'node1',
    manifest: { nodes: [{ node: 'node1', commits: {}, parts: store ? { files: { store } } : {} }] },
    options: { dropScratch: false, ...options },
  }) as unknown as Pick<RestoreContext, 'options' | 'manifest' | 'node' | 'backupId'>;

test('a drill or a --files-target restore of a bucket set needs a scratch bucket', () => {
  assert.throws(() => checkBucketTarget(ctx('s3', { dropScratch: true })), /a drill names no scratch bucket.*TheHive's live bucket/);
  assert.throws(() => checkBucketTarget(ctx('s3', { filesTarget: '/var/tmp/x' })), /--files-target \/var\/tmp\/x names no scratch bucket/);
  checkBucketTarget(ctx('s3', { dropScratch: true, filesBucket: 'drill-1' }));
  checkBucketTarget(ctx('s3', {}));
  checkBucketTarget(ctx('localfs', { dropScratch: true, filesTarget: '/var/tmp/x' }));
  checkBucketTarget(ctx(null, { dropScratch: true }));
});

test.run();
