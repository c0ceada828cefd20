// The peers of a DNS-01 issuance test: a real Knot serving the zones, a CNAME-following resolver in front
// of it, and a Pebble whose validator asks that resolver, as a CA's would. Also a DnsProvider wrapper that
// records the changes asked of it.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFetch } from '../../../src/acme/fetch.js';
import { AcmeIssuer } from '../../../src/issuers/acme-issuer.js';
import type { DnsProvider, TxtRecord } from '../../../src/solvers/dns/provider.js';
import type { ChallengeSolver } from '../../../src/solvers/solver.js';
import { FileStorage } from '../../../src/storage/fs.js';
import {
  type ChasingResolver,
  type KnotOptions,
  type RunningKnot,
  startChasingResolver,
  startKnot,
} from './knot.js';
import { type RunningPebble, startPebble } from './pebble.js';
import { forgetTempDir, removeAtExit } from './processes.js';

export interface Dns01Peers {
  knot: RunningKnot;
  resolver: ChasingResolver;
  /** Validates DNS-01 through `resolver`, that is against `knot`. */
  pebble: RunningPebble;
  /** An issuer on `pebble` (contact admin@example.test) proving names with `solver`, with a fresh cache. */
  issuer(solver: ChallengeSolver): AcmeIssuer;
  /** Stops Pebble, the resolver and Knot, in that order. */
  stop(): Promise<void>;
}

/** Starts Knot (with `knotOptions`), the resolver in front of it, and a Pebble that asks the resolver. */
export async function startDns01Peers(knotOptions: KnotOptions = {}): Promise<Dns01Peers> {
  const knot = await startKnot(knotOptions);
  const resolver = await startChasingResolver(knot).catch(async (error: unknown) => {
    await knot.stop();
    throw error;
  });
  const pebble = await startPebble({ dnsServer: resolver.address }).catch(async (error: unknown) => {
    await resolver.stop();
    await knot.stop();
    throw error;
  });
  const caches = await mkdtemp(join(tmpdir(), 'tlsward-dns01-caches-'));
  removeAtExit(caches);
  let counter = 0;
  return {
    knot,
    resolver,
    pebble,
    issuer(solver) {
      return new AcmeIssuer({
        directoryUrl: pebble.directoryUrl,
        storage: new FileStorage({ root: join(caches, `cache-${++counter}`) }),
        contact: ['admin@example.test'],
        solvers: [solver],
        fetch: nodeFetch({ ca: pebble.caPem }),
      });
    },
    async stop() {
      await pebble.stop();
      await resolver.stop();
      await knot.stop();
      forgetTempDir(caches);
    },
  };
}

/** A provider that records what it was asked to do, then does it. */
export function recording(inner: DnsProvider): DnsProvider & { added: TxtRecord[]; removed: TxtRecord[] } {
  const added: TxtRecord[] = [];
  const removed: TxtRecord[] = [];
  return {
    name: inner.name,
    added,
    removed,
    addTxt(record, s) {
      added.push(record);
      return inner.addTxt(record, s);
    },
    removeTxt(record, s) {
      removed.push(record);
      return inner.removeTxt(record, s);
    },
  };
}
