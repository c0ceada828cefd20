// Revocation reasons by name, for `tlsward revoke --reason` (and its help, without loading the ACME client).
import type { RevocationReason } from '../acme/client.js';

/** RFC 5280 reason codes a subscriber may give, by the names certbot and lego use. */
export const REVOCATION_REASONS: Record<string, RevocationReason> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};
