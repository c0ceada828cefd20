// One readable line per issuance step, for the terminal.
import type { IssueProgress } from '../issuers/issuer.js';

export function describeProgress(event: IssueProgress): string {
  switch (event.step) {
    case 'account':
      return event.created ? `account ready: ${event.url}` : `using stored account ${event.url}`;
    case 'order':
      return `order created for ${event.names.join(', ')}`;
    case 'authorization':
      if (event.state === 'already-valid') return `  ${event.domain}: already authorized`;
      return `  ${event.domain}: ${event.challenge} ${
        event.state === 'presenting' ? 'answer ready' : event.state === 'validating' ? 'validating' : 'valid'
      }`;
    case 'finalize':
      return 'finalizing with the certificate signing request';
    case 'download':
      return `downloading the certificate${event.alternates > 0 ? ` (${event.alternates} alternative chains offered)` : ''}`;
    case 'issued':
      return `issued, valid until ${event.notAfter.toISOString()}`;
  }
}
