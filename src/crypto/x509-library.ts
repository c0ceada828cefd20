// pkijs and asn1js, loaded on first use rather than at start-up: together they take ~40 ms to load,
// which is most of what a `tlsward issue` run spends before its first request. Callers that know they
// will need them call preloadX509Library() early, so loading overlaps the first network round trips.

export type Pkijs = typeof import('pkijs');
export type Asn1js = typeof import('asn1js');

export interface X509Library {
  readonly pkijs: Pkijs;
  readonly asn1js: Asn1js;
}

export async function x509Library(): Promise<X509Library> {
  const [pkijs, asn1js] = await Promise.all([import('pkijs'), import('asn1js')]);
  return { pkijs, asn1js };
}

/** Starts loading in the background; a failure surfaces later, where the library is used. */
export function preloadX509Library(): void {
  x509Library().catch(() => {});
}
