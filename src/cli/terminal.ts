// Where the CLI writes: stdout for results, stderr for progress and errors. Injected so tests can
// capture output, and so progress lines are shown only to people (a TTY) unless asked for.

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal a person watches. */
  readonly interactive: boolean;
}

export function createTerminal(): Terminal {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    interactive: process.stderr.isTTY === true,
  };
}
