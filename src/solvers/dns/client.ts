// A small DNS client on top of transport.ts: queries with random IDs whose answers must echo the
// question, and RFC 2136 UPDATE messages signed with TSIG whose answers must carry a valid signature.
// Turns every failure (RCODE, TSIG error, bad answer) into a DnsError naming server, zone and record.
import { randomInt } from 'node:crypto';
import { type Clock, systemClock } from '../../util/clock.js';
import { Opcode, Rcode, RRClass, RRType, rcodeName, typeName } from './constants.js';
import { DnsError } from './errors.js';
import {
  type DecodedMessage,
  decodeMessage,
  encodeMessage,
  newMessage,
  type Question,
  type ResourceRecord,
} from './message.js';
import { type DnsProtocol, type DnsServerAddress, exchange, formatServer } from './transport.js';
import {
  signMessage,
  TsigErrorCode,
  type TsigKey,
  TsigVerificationError,
  tsigErrorName,
  verifyMessage,
} from './tsig.js';
import { sameName } from './wire.js';

export interface DnsClientOptions {
  /** 'udp' (default): UDP with TCP fallback on truncation. 'tcp': TCP only. */
  readonly protocol?: DnsProtocol;
  /** Per attempt (UDP) or per exchange (TCP); default 3000 ms. */
  readonly timeoutMs?: number;
  readonly udpAttempts?: number;
  /** Time source for TSIG signatures. */
  readonly clock?: Clock;
}

/** EDNS payload size advertised on queries: the DNS flag day 2020 value, safe from fragmentation. */
const EDNS_UDP_SIZE = 1232;

export interface QueryOptions {
  /** Recursion desired: true for resolvers (default), false for authoritative servers. */
  readonly recursive?: boolean;
}

export interface UpdateContext {
  /** What is being done, for messages: e.g. `adding TXT _acme-challenge.example.org`. */
  readonly action: string;
  /** The record, for DnsError.record: e.g. `TXT _acme-challenge.example.org`. */
  readonly record: string;
}

export class DnsClient {
  readonly #options: DnsClientOptions;

  constructor(options: DnsClientOptions = {}) {
    this.#options = options;
  }

  /** Asks `server` one question; the answer's RCODE is left to the caller (NXDOMAIN is an answer). */
  async query(
    server: DnsServerAddress,
    name: string,
    type: number,
    signal: AbortSignal,
    options: QueryOptions = {},
  ): Promise<DecodedMessage> {
    const question: Question = { name, type, class: RRClass.IN };
    const request = newMessage({
      id: randomInt(0, 0x10000),
      rd: options.recursive ?? true,
      questions: [question],
      edns: { udpSize: EDNS_UDP_SIZE },
    });
    const what = `query for ${typeName(type)} ${name}`;
    const bytes = await this.#exchange(server, encodeMessage(request), signal);
    return checkReply(request.id, Opcode.QUERY, question, bytes, server, what, undefined);
  }

  /**
   * Sends one UPDATE for `zone` with the given update-section records, signed with `key` when given,
   * and succeeds only on a NOERROR answer that (when signed) carries a valid TSIG signature.
   */
  async update(
    server: DnsServerAddress,
    zone: string,
    updates: readonly ResourceRecord[],
    key: TsigKey | undefined,
    context: UpdateContext,
    signal: AbortSignal,
  ): Promise<void> {
    const zoneQuestion: Question = { name: zone, type: RRType.SOA, class: RRClass.IN };
    const request = newMessage({
      id: randomInt(0, 0x10000),
      opcode: Opcode.UPDATE,
      questions: [zoneQuestion],
      authorities: updates,
    });
    const clock = this.#options.clock ?? systemClock;
    const encoded = encodeMessage(request);
    const signed = key
      ? signMessage(encoded, key, { timeSigned: Math.floor(clock.now() / 1000) })
      : undefined;
    const what = `${context.action} in zone ${zone}`;
    const details = { server: formatServer(server), zone, record: context.record };
    const bytes = await this.#exchange(server, signed?.bytes ?? encoded, signal);
    const reply = checkReply(request.id, Opcode.UPDATE, zoneQuestion, bytes, server, what, zone);

    if (key && signed) {
      try {
        verifyMessage(bytes, reply, key, { now: Math.floor(clock.now() / 1000), requestMac: signed.mac });
      } catch (error) {
        if (!(error instanceof TsigVerificationError)) throw error;
        // An unsigned error answer (servers do not sign answers about zones they lack) is reported by its
        // RCODE: it is a failure either way. Only success must never be believed without a signature.
        if (reply.tsig || reply.rcode === Rcode.NOERROR) throw tsigFailure(error, reply, key, what, details);
      }
    }
    if (reply.rcode !== Rcode.NOERROR) {
      const name = rcodeName(reply.rcode);
      const note = key && !reply.tsig ? ' (unsigned answer)' : '';
      throw new DnsError(
        'rcode',
        `${what} at ${details.server} failed: ${name}${note}: ${explainRcode(reply.rcode, zone, key)}`,
        {
          ...details,
          rcode: name,
        },
      );
    }
  }

  async #exchange(server: DnsServerAddress, bytes: Uint8Array, signal: AbortSignal): Promise<Buffer> {
    const result = await exchange(
      server,
      bytes,
      {
        protocol: this.#options.protocol ?? 'udp',
        timeoutMs: this.#options.timeoutMs ?? 3000,
        ...(this.#options.udpAttempts !== undefined ? { udpAttempts: this.#options.udpAttempts } : {}),
      },
      signal,
    );
    return result.bytes;
  }
}

/** Decodes an answer and checks that it answers our message (ID, QR, opcode, echoed question). */
function checkReply(
  id: number,
  opcode: number,
  question: Question,
  bytes: Buffer,
  server: DnsServerAddress,
  what: string,
  zone: string | undefined,
): DecodedMessage {
  const fail = (reason: string, cause?: unknown) =>
    new DnsError('protocol', `${what}: bad answer from ${formatServer(server)}: ${reason}`, {
      server: formatServer(server),
      zone,
      cause,
    });
  let reply: DecodedMessage;
  try {
    reply = decodeMessage(bytes);
  } catch (error) {
    throw fail((error as Error).message, error);
  }
  if (reply.id !== id) throw fail(`ID ${reply.id} instead of ${id}`);
  if (!reply.qr) throw fail('not a response (QR bit clear)');
  if (reply.opcode !== opcode) throw fail(`opcode ${reply.opcode} instead of ${opcode}`);
  if (reply.tc) throw fail('truncated even over TCP');
  // Servers may drop the question from error answers they could not parse (FORMERR, NOTIMP).
  if (reply.questions.length === 0 && reply.rcode !== Rcode.NOERROR) return reply;
  const echoed = reply.questions[0];
  if (
    reply.questions.length !== 1 ||
    !echoed ||
    !sameName(echoed.name, question.name) ||
    echoed.type !== question.type ||
    echoed.class !== question.class
  ) {
    throw fail('the question in the answer is not the one asked');
  }
  return reply;
}

function tsigFailure(
  error: TsigVerificationError,
  reply: DecodedMessage,
  key: TsigKey,
  what: string,
  details: { server: string; zone: string; record: string },
): DnsError {
  const keyText = `key ${JSON.stringify(key.name)} (${key.algorithm})`;
  const claimed = reply.rcode === Rcode.NOERROR ? '' : `, RCODE ${rcodeName(reply.rcode)}`;
  let message: string;
  switch (error.error) {
    case TsigErrorCode.BADSIG:
      message = `the server rejected our TSIG signature (BADSIG${claimed}): the secret of ${keyText} does not match the server's`;
      break;
    case TsigErrorCode.BADKEY:
      message = `the server does not know ${keyText} (BADKEY${claimed}): check the key name and algorithm`;
      break;
    case TsigErrorCode.BADTIME:
      message = `TSIG time check failed (BADTIME): ${error.message}; synchronise the clocks`;
      break;
    default:
      message = reply.tsig
        ? `the answer's TSIG signature is not valid for ${keyText}: ${error.message}`
        : `the answer${claimed} is not signed although the request was (${keyText}); not trusting it`;
  }
  const rcode = error.error !== undefined ? tsigErrorName(error.error) : rcodeName(reply.rcode);
  return new DnsError('tsig', `${what} at ${details.server} failed: ${message}`, { ...details, rcode });
}

function explainRcode(rcode: number, zone: string, key: TsigKey | undefined): string {
  const unsigned = 'the server does not accept this unsigned update (it probably requires a TSIG key)';
  const keyText = key ? `key ${JSON.stringify(key.name)}` : '';
  switch (rcode) {
    case Rcode.REFUSED:
      // BIND's answer to an update its policy forbids; also what a server says about a zone it does not serve.
      return key
        ? `the server does not serve zone ${zone}, or its policy does not allow ${keyText} to change TXT records there`
        : unsigned;
    case Rcode.NOTAUTH:
      // Knot's answer to an update its ACL forbids (RFC 2136 section 3.3 leaves the choice open).
      return key
        ? `the server is not authoritative for zone ${zone}, or its ACL does not allow ${keyText} to change TXT records there`
        : unsigned;
    case Rcode.NOTZONE:
      return `the record is not inside zone ${zone}`;
    case Rcode.SERVFAIL:
      return 'the server failed to process the update (try again later; see its log)';
    case Rcode.NOTIMP:
      return 'the server does not support dynamic updates (RFC 2136)';
    case Rcode.FORMERR:
      return 'the server could not parse the update';
    default:
      return 'the server did not apply the update';
  }
}
