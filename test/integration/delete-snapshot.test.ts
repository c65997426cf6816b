/**
 * DeleteSnapshot's refusals, with real agents over mutual TLS and no Elasticsearch: a name that
 * is not tandem's, another repository and an agent without the elasticsearch role are refused
 * before any request to Elasticsearch; an unreachable Elasticsearch is a precondition failure
 * that says so. (Deleting real snapshots: retention-es.test.ts, on the sandbox.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { handles, makeFleet, removeFleet, startFleet, unusedPort, type TestFleet } from '../helpers/fleet';

let fleet: TestFleet | undefined;
test.after(async () => {
  if (fleet) await removeFleet(fleet);
});

test('DeleteSnapshot refuses what is not a tandem snapshot of its own repository, and says when Elasticsearch is down', async () => {
  fleet = await makeFleet([
    { node: 'es1', roles: { elasticsearch: { url: `http://127.0.0.1:${await unusedPort()}`, repository: 'tandem', requestTimeoutMs: 2000 } } },
    { node: 'n1' },
  ]);
  await startFleet(fleet);
  const [es1, n1] = handles(fleet);
  const refused = (p: Promise<unknown>, message: RegExp) => p.then(() => assert.unreachable(), (e: Error) => assert.match(e.message, message));
  try {
    await refused(es1.deleteSnapshot('tandem', 'nightly', 10_000), /INVALID_ARGUMENT.*"nightly" is not a tandem snapshot name/);
    await refused(es1.deleteSnapshot('tandem', 'tandem-../x', 10_000), /INVALID_ARGUMENT.*not a tandem snapshot name/);
    await refused(es1.deleteSnapshot('other', 'tandem-set-1', 10_000), /INVALID_ARGUMENT.*"other" is not this agent's snapshot repository \(tandem\)/);
    await refused(es1.deleteSnapshot('tandem', 'tandem-set-1', 20_000), /FAILED_PRECONDITION.*cannot delete snapshot tandem\/tandem-set-1: Elasticsearch at .* is unreachable/);
    await refused(n1.deleteSnapshot('tandem', 'tandem-set-1', 10_000), /UNIMPLEMENTED.*n1 has no role that keeps snapshots/);
  } finally {
    es1.close();
    n1.close();
  }
});

test.run();
