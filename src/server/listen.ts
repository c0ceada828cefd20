// Binding a listener: the shape every tlsward server shares, and "all interfaces" done portably.
import type { AddressInfo } from 'node:net';

export interface Listenable {
  listen(port: number, host?: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** Binds every interface: IPv6 dual-stack where the host has IPv6, IPv4 otherwise. */
export async function listenAllInterfaces(server: Listenable, port: number): Promise<AddressInfo> {
  try {
    return await server.listen(port, '::');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL') throw error;
    return server.listen(port, '0.0.0.0');
  }
}
