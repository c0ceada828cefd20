// DNS numbers: record types, classes, opcodes and RCODEs we use, with their names for messages.

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  TSIG: 250,
  ANY: 255,
} as const;

export const RRClass = { IN: 1, NONE: 254, ANY: 255 } as const;

export const Opcode = { QUERY: 0, UPDATE: 5 } as const;

/** RCODEs (RFC 1035, 2136, 6891). TSIG errors (BADSIG...) travel in the TSIG record: see tsig.ts. */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADVERS',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RRType).map(([name, value]) => [value, name]),
);

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}
