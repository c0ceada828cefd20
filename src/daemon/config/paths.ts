// Key paths of the configuration: a path is the list of TOML key segments (`['acme', 'le', 'renew-before']`),
// shown to people in dotted form (`acme.le.renew-before`, quoting a segment only when it needs it).

export type KeyPath = readonly string[];

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** The dotted form of a path, as problems show it: `acme.letsencrypt.renew-before`, `acme."a.b".port`. */
export function formatKey(path: KeyPath): string {
  return path.map((segment) => (BARE_KEY.test(segment) ? segment : JSON.stringify(segment))).join('.');
}

/** A map key for a path (segments may contain dots, so joining with '.' would be ambiguous). */
export function pathId(path: KeyPath): string {
  return JSON.stringify(path);
}

/**
 * Parses a dotted key as written in `%{cfg:acme."le".directory}%`: bare segments, or quoted with `"` or `'`.
 * Returns undefined when the text is not a well-formed key.
 */
export function parseKeyPath(text: string): string[] | undefined {
  const segments: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  while (true) {
    skipSpace();
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      const end = text.indexOf(quote, i + 1);
      if (end < 0) return undefined;
      segments.push(text.slice(i + 1, end));
      i = end + 1;
    } else {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_-]/.test(text[i]!)) i++;
      if (i === start) return undefined;
      segments.push(text.slice(start, i));
    }
    skipSpace();
    if (i === text.length) return segments;
    if (text[i] !== '.') return undefined;
    i++;
  }
}
