// DNS messages captured from real tools on this machine (Knot DNS 3.2.6 utilities), used as known
// answers for the encoder, the decoder and TSIG. The key is the test key below; never a real secret.
//   kdig @127.0.0.1 -p P +noedns +nocookie example.test SOA
//   kdig @127.0.0.1 -p P +noedns -y hmac-sha256:tlsward-key:SECRET _acme-challenge.example.test TXT
//   knsupdate, with: zone example.test. / key hmac-sha256:tlsward-key SECRET /
//     update add _acme-challenge.example.test. 60 TXT "value-one" /
//     update delete _acme-challenge.example.test. TXT "value-two" / send
// The update was sent through a logging UDP proxy to knotd, which gave the answers below; the BADSIG
// pair used a different secret on the client side.

export const TEST_KEY = {
  name: 'tlsward-key',
  algorithm: 'hmac-sha256',
  secret: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=',
} as const;

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** kdig: ID 0xa6ca, flags RD AD, one question example.test SOA IN, no EDNS. */
export const KDIG_SOA_QUERY = hex('a6ca01200001000000000000 076578616d706c65047465737400 0006 0001');

/** kdig: TXT query signed with TEST_KEY (hmac-sha256) at 0x6b12e08b. */
export const KDIG_SIGNED_TXT_QUERY = hex(`
  b0ff 0120 0001 0000 0000 0001
  0f5f61636d652d6368616c6c656e6765076578616d706c65047465737400 0010 0001
  0b746c73776172642d6b657900 00fa 00ff 00000000 003d
  0b686d61632d73686132353600 00006b12e08b 012c 0020
  82e678ffd8e1a196ef19c4a4077cca27a27351457006318b16a67447b646d809
  b0ff 0000 0000`);

/** knsupdate: UPDATE (add value-one, delete value-two) with compressed names, signed at 0x6b12e096. */
export const KNSUPDATE_REQUEST = hex(`
  7cdd 2800 0001 0000 0002 0001
  076578616d706c65047465737400 0006 0001
  0f5f61636d652d6368616c6c656e6765c00c 0010 0001 0000003c 000a 0976616c75652d6f6e65
  c01e 0010 00fe 00000000 000a 0976616c75652d74776f
  0b746c73776172642d6b657900 00fa 00ff 00000000 003d
  0b686d61632d73686132353600 00006b12e096 012c 0020
  e01fd8b5b78fabf79196f366239e5f4860c20cbfb017ebcfe0fa43dd573146b8
  7cdd 0000 0000`);

/** knotd's signed NOERROR answer to KNSUPDATE_REQUEST. */
export const KNOT_RESPONSE = hex(`
  7cdd a800 0001 0000 0000 0001
  076578616d706c65047465737400 0006 0001
  0b746c73776172642d6b657900 00fa 00ff 00000000 003d
  0b686d61632d73686132353600 00006b12e096 012c 0020
  21ecccaedf141a6d073f9efec911e1ddb43177b04b6fae3a98463c0d77e5028a
  7cdd 0000 0000`);

/** knotd's answer to the same update signed with a wrong secret: NOTAUTH, TSIG error BADSIG, no MAC. */
export const KNOT_BADSIG_RESPONSE = hex(`
  e372 a809 0001 0000 0000 0001
  076578616d706c65047465737400 0006 0001
  0b746c73776172642d6b657900 00fa 00ff 00000000 001d
  0b686d61632d73686132353600 00006b12e096 012c 0000
  e372 0010 0000`);
