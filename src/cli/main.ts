// The `tlsward` command line: parses arguments with commander and maps outcomes to exit codes
// (0 success, 1 the operation failed, 2 bad usage). Each subcommand lives in its own file, loaded only
// when it runs: `tlsward issue` must not pay for the daemon's modules.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { KEY_TYPES } from '../crypto/keys.js';
import { DEFAULT_CACHE, LOG_LEVELS } from '../daemon/defaults.js';
import { CHALLENGE_TYPES } from '../solvers/solver.js';
import { VERSION } from '../version.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './exit-codes.js';
import type { IssueCommandOptions } from './issue.js';
import type { RenewCommandOptions } from './renew.js';
import { REVOCATION_REASONS } from './revocation-reasons.js';
import type { RevokeCommandOptions } from './revoke.js';
import type { ServeCommandOptions } from './serve.js';
import { createTerminal, type Terminal } from './terminal.js';

export async function main(argv: readonly string[], terminal: Terminal = createTerminal()): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('tlsward')
    .description('Automatic TLS certificates over ACME (RFC 8555)')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => terminal.out(text),
      writeErr: (text) => terminal.err(text),
    })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('issue')
    .description('obtain a certificate now and store it in the cache folder')
    .requiredOption('--directory <url>', 'ACME directory URL of the CA', parseUrl)
    .option('--contact <email>', 'contact address for the account (repeatable)', collect, [])
    .requiredOption('--cache <dir>', 'folder for the account, keys and certificates')
    .requiredOption(
      '--domain <name>',
      'a name for the certificate (repeatable; the first is primary)',
      collect,
      [],
    )
    .addOption(
      new Option('--challenge <type>', 'how to prove control of the names')
        .choices([...CHALLENGE_TYPES])
        .default('tls-alpn-01'),
    )
    .option(
      '--port <n>',
      'port of the challenge responder (default: 443 for tls-alpn-01, 80 for http-01)',
      parsePort,
    )
    .option('--listen <address>', 'address the challenge responder binds (default: all interfaces)')
    .option('--dns-server <host[:port]>', 'dns-01: the DNS server that accepts RFC 2136 updates')
    .option('--dns-zone <zone>', 'dns-01: the zone to update (default: found with SOA queries)')
    .option(
      '--dns-resolver <host[:port]>',
      'dns-01: resolver for CNAME and zone lookups (repeatable)',
      collect,
      [],
    )
    .option(
      '--dns-nameserver <host[:port]>',
      'dns-01: check this server for propagation (repeatable)',
      collect,
      [],
    )
    .option('--tsig-key <name>', 'dns-01: TSIG key name')
    .option('--tsig-algorithm <alg>', 'dns-01: TSIG algorithm (default hmac-sha256)')
    .option(
      '--tsig-secret-file <file>',
      'dns-01: file holding the base64 TSIG secret (or TLSWARD_TSIG_SECRET)',
    )
    .addOption(
      new Option('--key-type <type>', 'certificate key type').choices([...KEY_TYPES]).default('ec256'),
    )
    .option('--preferred-chain <issuer>', 'issuer common name of the chain to prefer')
    .option('--eab-kid <kid>', 'external account binding key id')
    .option('--eab-hmac-key <key>', 'external account binding HMAC key (base64url)')
    .option('--ca-file <pem>', "PEM file of CA certificates to trust for the directory's HTTPS")
    .option('--json', 'print one JSON object on stdout instead of text')
    .action(async (options: IssueCommandOptions) => {
      const { runIssue } = await import('./issue.js');
      exitCode = await runIssue(options, terminal);
    });

  program
    .command('serve')
    .description('run the daemon: listeners, certificates and renewal from a configuration file')
    .requiredOption('--config <file>', 'TOML configuration (Stalwart-style [acme] and [server] tables)')
    .option('--cache <dir>', `cache folder of providers that set none (default ${DEFAULT_CACHE})`)
    .addOption(
      new Option('--log-level <level>', 'least severe level logged').choices([...LOG_LEVELS]).default('info'),
    )
    .addOption(
      new Option('--log-format <format>', 'json, or readable lines (default on a terminal)').choices([
        'json',
        'pretty',
      ]),
    )
    .option('--drain <seconds>', 'how long open connections may finish at shutdown', parseSeconds, 10)
    .option(
      '--context-cache <n>',
      'TLS contexts kept built, ~21 KB each; the rest are rebuilt from the cache on use (default 10000)',
      parseCount,
    )
    .action(async (options: ServeCommandOptions) => {
      const { runServe } = await import('./serve.js');
      exitCode = await runServe(options, terminal);
    });

  program
    .command('check')
    .description('validate a configuration file and print every problem with file:line and key')
    .requiredOption('--config <file>', 'TOML configuration')
    .action(async (options: { config: string }) => {
      const { runCheck } = await import('./check.js');
      exitCode = await runCheck(options, terminal);
    });

  program
    .command('status')
    .description('show every certificate of a configuration: names, issuer, expiry, next attempt, last error')
    .requiredOption('--config <file>', 'TOML configuration')
    .option('--cache <dir>', 'cache folder of providers that set none')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { config: string; cache?: string; json?: boolean }) => {
      const { runStatus } = await import('./status.js');
      exitCode = await runStatus(options, terminal);
    });

  program
    .command('renew')
    .description('renew due certificates of a configuration now (all of them with --force)')
    .requiredOption('--config <file>', 'TOML configuration')
    .option('--cache <dir>', 'cache folder of providers that set none')
    .option('--domain <name>', 'only the certificate covering this name')
    .option('--force', 'renew even when not due')
    .action(async (options: RenewCommandOptions) => {
      const { runRenew } = await import('./renew.js');
      exitCode = await runRenew(options, terminal);
    });

  program
    .command('revoke')
    .description('revoke the stored certificate for these names at the CA that issued it')
    .requiredOption('--directory <url>', 'ACME directory URL of the CA that issued it', parseUrl)
    .requiredOption('--cache <dir>', 'the cache folder the certificate was issued into')
    .requiredOption(
      '--domain <name>',
      'the names of the certificate, as given to issue (repeatable)',
      collect,
      [],
    )
    .option('--contact <email>', 'contact of the account, as given to issue (repeatable)', collect, [])
    .addOption(
      new Option('--reason <reason>', 'RFC 5280 revocation reason')
        .choices(Object.keys(REVOCATION_REASONS))
        .default('unspecified'),
    )
    .option('--ca-file <pem>', "PEM file of CA certificates to trust for the directory's HTTPS")
    .action(async (options: RevokeCommandOptions) => {
      const { runRevoke } = await import('./revoke.js');
      exitCode = await runRevoke(options, terminal);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      terminal.err(`tlsward: ${error.message}\n`);
      return EXIT_USAGE;
    }
    terminal.err(`tlsward: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError('must be a port number from 1 to 65535');
  }
  return port;
}

function parseCount(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1)
    throw new InvalidArgumentError('must be a whole number of at least 1');
  return count;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new InvalidArgumentError('must be a number of seconds');
  return seconds;
}

function parseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
    return url.href;
  } catch {
    throw new InvalidArgumentError('must be an http(s) URL');
  }
}
