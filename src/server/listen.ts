// Binding a listener: the shape every tlsward server shares, and "all interfaces" done portably.
import type { AddressInfo, Server } from 'node:net';

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

/** server.listen as a promise that rejects on a bind error (EADDRINUSE, EACCES) instead of emitting it. */
export function listenServer(server: Server, port: number, host?: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
