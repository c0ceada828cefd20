// An in-process DNS server on 127.0.0.1 (UDP and TCP on the same port) for unit tests: a handler sees
// each decoded request and returns the bytes to answer with, several datagrams (to test ID matching),
// or nothing (to test timeouts). Built on the codec under test only for decoding requests; answers are
// whatever bytes the test chooses.
import dgram from 'node:dgram';
import net from 'node:net';
import {
  type DecodedMessage,
  decodeMessage,
  encodeMessage,
  newMessage,
} from '../../../../src/solvers/dns/message.js';

export type Protocol = 'udp' | 'tcp';

export type Handler = (
  request: DecodedMessage,
  bytes: Buffer,
  protocol: Protocol,
) => Buffer | Buffer[] | undefined | Promise<Buffer | Buffer[] | undefined>;

export interface FakeDnsServer {
  host: '127.0.0.1';
  port: number;
  address: string;
  /** Every request received, in order. */
  requests: { protocol: Protocol; message: DecodedMessage; bytes: Buffer }[];
  close(): Promise<void>;
}

/**
 * Starts a server answering on one port over UDP and TCP. The UDP port comes from the kernel; the same
 * TCP port may be taken by an unrelated connection, so that case is retried on a new port.
 */
export async function startFakeDnsServer(handler: Handler): Promise<FakeDnsServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnPort(handler);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw error;
    }
  }
}

async function startOnPort(handler: Handler): Promise<FakeDnsServer> {
  const requests: FakeDnsServer['requests'] = [];
  const udp = dgram.createSocket('udp4');
  const tcp = net.createServer();
  const respond = async (bytes: Buffer, protocol: Protocol): Promise<Buffer[]> => {
    const message = decodeMessage(bytes);
    requests.push({ protocol, message, bytes });
    const answer = await handler(message, bytes, protocol);
    return answer === undefined ? [] : Array.isArray(answer) ? answer : [answer];
  };
  udp.on('message', (bytes, peer) => {
    void respond(bytes, 'udp').then((answers) => {
      for (const answer of answers) udp.send(answer, peer.port, peer.address);
    });
  });
  const sockets = new Set<net.Socket>();
  tcp.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      const bytes = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
      buffered = Buffer.alloc(0);
      void respond(bytes, 'tcp').then((answers) => {
        for (const answer of answers) {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(answer.length);
          socket.write(Buffer.concat([length, answer]));
        }
      });
    });
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const port = udp.address().port;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (error) => {
      udp.close();
      reject(error);
    });
    tcp.listen(port, '127.0.0.1', resolve);
  });
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/** A response to `request` echoing its question, with the given fields. */
export function reply(
  request: DecodedMessage,
  fields: Partial<Parameters<typeof newMessage>[0]> = {},
): Buffer {
  return encodeMessage(
    newMessage({
      id: request.id,
      qr: true,
      opcode: request.opcode,
      aa: true,
      questions: request.questions,
      ...fields,
    }),
  );
}
