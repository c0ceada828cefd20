// A challenge responder that listens only while an order needs it: a mail host with nothing on port 443
// (or 80) opens the port when the first challenge is presented and closes it after the last cleanup.
import type { AddressInfo } from 'node:net';
import { type Listenable, listenAllInterfaces } from '../server/listen.js';
import type { ChallengeSolver, PendingChallenge } from '../solvers/solver.js';

export class OnDemandPort {
  readonly port: number;
  readonly #create: () => Listenable;
  readonly #onOpen: (address: AddressInfo) => void;
  #users = 0;
  #open: Promise<Listenable> | undefined;

  constructor(port: number, create: () => Listenable, onOpen: (address: AddressInfo) => void = () => {}) {
    this.port = port;
    this.#create = create;
    this.#onOpen = onOpen;
  }

  /** Opens the port for one more user (the first one binds it). */
  async acquire(): Promise<void> {
    this.#users++;
    if (!this.#open) {
      const server = this.#create();
      this.#open = listenAllInterfaces(server, this.port).then((address) => {
        this.#onOpen(address);
        return server;
      });
      this.#open.catch(() => {
        this.#open = undefined;
      });
    }
    try {
      await this.#open;
    } catch (error) {
      this.#users--;
      throw error;
    }
  }

  /** One user fewer; the last one closes the port. */
  async release(): Promise<void> {
    this.#users = Math.max(0, this.#users - 1);
    if (this.#users > 0 || !this.#open) return;
    const open = this.#open;
    this.#open = undefined;
    await (await open.catch(() => undefined))?.close();
  }

  get isOpen(): boolean {
    return this.#open !== undefined;
  }
}

/** Wraps a solver so its challenges hold the on-demand port open from present() to cleanup(). */
export function withOnDemandPort(solver: ChallengeSolver, port: OnDemandPort): ChallengeSolver {
  const holding = new Set<string>();
  const key = (challenge: PendingChallenge) => `${challenge.domain}\u0000${challenge.token}`;
  return {
    type: solver.type,
    async present(challenge, signal) {
      await port.acquire();
      holding.add(key(challenge));
      await solver.present(challenge, signal);
    },
    ...(solver.wait
      ? { wait: (challenge: PendingChallenge, signal: AbortSignal) => solver.wait!(challenge, signal) }
      : {}),
    async cleanup(challenge, signal) {
      try {
        await solver.cleanup(challenge, signal);
      } finally {
        // cleanup() also runs when present() failed before acquiring: release only what was held.
        if (holding.delete(key(challenge))) await port.release();
      }
    },
  };
}
