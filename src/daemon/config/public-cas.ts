// Well-known public ACME CAs, recognised by the host of their directory URL. For these the CA validates
// from the internet on the standard ports, wants a contact address, and refuses reserved contact domains;
// some accept new accounts only with external account binding.

export interface PublicCa {
  readonly name: string;
  readonly requiresEab: boolean;
}

const PUBLIC_CAS: Record<string, PublicCa> = {
  'acme-v02.api.letsencrypt.org': { name: "Let's Encrypt", requiresEab: false },
  'acme-staging-v02.api.letsencrypt.org': { name: "Let's Encrypt (staging)", requiresEab: false },
  'acme.zerossl.com': { name: 'ZeroSSL', requiresEab: true },
  'api.buypass.com': { name: 'Buypass', requiresEab: false },
  'api.test4.buypass.no': { name: 'Buypass (test)', requiresEab: false },
  'dv.acme-v02.api.pki.goog': { name: 'Google Trust Services', requiresEab: true },
  'dv.acme-v02.test-api.pki.goog': { name: 'Google Trust Services (staging)', requiresEab: true },
  'acme.ssl.com': { name: 'SSL.com', requiresEab: true },
};

/** The public CA a directory URL belongs to, if it is a well-known one. */
export function publicCaOf(directory: string): PublicCa | undefined {
  try {
    return PUBLIC_CAS[new URL(directory).hostname.toLowerCase()];
  } catch {
    return undefined;
  }
}

/** Reserved names (RFC 2606, RFC 6761) that public CAs refuse in contact addresses. */
export function isReservedDomain(domain: string): boolean {
  const name = domain.toLowerCase().replace(/\.$/, '');
  if (['example.com', 'example.net', 'example.org', 'localhost'].includes(name)) return true;
  return /(^|\.)(example|test|invalid|localhost|local)$/.test(name) || /\.example\.(com|net|org)$/.test(name);
}
