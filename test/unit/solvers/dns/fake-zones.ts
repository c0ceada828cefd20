// A toy authoritative server's data for unit tests of zone discovery, CNAME following and propagation:
// zones with SOA and NS (ns1.<zone> with glue 127.0.0.1), static CNAMEs, and TXT values that an
// in-memory DnsProvider writes and that show up only after a chosen number of TXT queries (lag).
import { Rcode, RRClass, RRType } from '../../../../src/solvers/dns/constants.js';
import type { DecodedMessage, ResourceRecord } from '../../../../src/solvers/dns/message.js';
import type { DnsProvider, TxtRecord } from '../../../../src/solvers/dns/provider.js';
import { canonicalName, isSubdomain } from '../../../../src/solvers/dns/wire.js';
import { type Handler, reply } from './fake-dns-server.js';

const rr = (name: string, type: number, data: ResourceRecord['data']): ResourceRecord => ({
  name,
  type,
  class: RRClass.IN,
  ttl: 60,
  data,
});

export class FakeZones {
  readonly zones: string[];
  readonly cnames = new Map<string, string>();
  /** name -> values, with how many more TXT queries each value stays invisible. */
  readonly txt = new Map<string, Map<string, number>>();
  /** TXT queries a new value stays invisible for. */
  lag = 0;
  /** Names whose TXT queries get no answer at all. */
  readonly silent = new Set<string>();

  constructor(zones: string[]) {
    this.zones = zones;
  }

  values(name: string): string[] {
    return [...(this.txt.get(canonicalName(name))?.keys() ?? [])];
  }

  readonly handler: Handler = (request: DecodedMessage) => {
    const question = request.questions[0]!;
    const name = canonicalName(question.name);
    const zone = this.zones.find((z) => isSubdomain(name, z));
    if (!zone) return reply(request, { rcode: Rcode.REFUSED });
    const soa = rr(zone, RRType.SOA, {
      kind: 'SOA',
      mname: `ns1.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: 60,
    });
    const cname = this.cnames.get(name);
    if (cname && question.type !== RRType.CNAME) {
      return reply(request, { answers: [rr(name, RRType.CNAME, { kind: 'CNAME', target: cname })] });
    }
    const answers: ResourceRecord[] = [];
    const additionals: ResourceRecord[] = [];
    if (question.type === RRType.CNAME && cname)
      answers.push(rr(name, RRType.CNAME, { kind: 'CNAME', target: cname }));
    if (question.type === RRType.SOA && name === zone) answers.push(soa);
    if (question.type === RRType.NS && name === zone) {
      answers.push(rr(zone, RRType.NS, { kind: 'NS', target: `ns1.${zone}` }));
      additionals.push(rr(`ns1.${zone}`, RRType.A, { kind: 'A', address: '127.0.0.1' }));
    }
    if (question.type === RRType.A && name === `ns1.${zone}`)
      answers.push(rr(name, RRType.A, { kind: 'A', address: '127.0.0.1' }));
    if (question.type === RRType.TXT) {
      if (this.silent.has(name)) return undefined;
      for (const [value, hiddenFor] of this.txt.get(name) ?? []) {
        if (hiddenFor > 0) this.txt.get(name)!.set(value, hiddenFor - 1);
        else answers.push(rr(name, RRType.TXT, { kind: 'TXT', strings: [value] }));
      }
    }
    return reply(request, { answers, additionals, authorities: answers.length === 0 ? [soa] : [] });
  };

  /** A provider writing into these zones, recording its calls; `failAdd` makes addTxt throw. */
  provider(options: { failAdd?: Error; failRemove?: Error } = {}): DnsProvider & { calls: string[] } {
    const calls: string[] = [];
    return {
      name: 'fake',
      calls,
      addTxt: async (record: TxtRecord) => {
        calls.push(`add ${record.name} ${record.value} ttl=${record.ttl}`);
        if (options.failAdd) throw options.failAdd;
        const name = canonicalName(record.name);
        if (!this.txt.has(name)) this.txt.set(name, new Map());
        this.txt.get(name)!.set(record.value, this.lag);
      },
      removeTxt: async (record: TxtRecord) => {
        calls.push(`remove ${record.name} ${record.value}`);
        if (options.failRemove) throw options.failRemove;
        this.txt.get(canonicalName(record.name))?.delete(record.value);
      },
    };
  }
}
