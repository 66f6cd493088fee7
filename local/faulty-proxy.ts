/**
 * A TCP proxy on loopback in front of a local service (an emulator), that can make the service
 * unavailable on demand: every connection passed through (`pass`), every connection reset at once
 * (`reset`: the service is down, clients see ECONNRESET), or accepted and never answered (`hang`:
 * the service is unreachable, clients see their timeouts). Switching away from `pass` drops the
 * connections that were open, as an outage does. The chaos benchmark and the fault tests put one
 * in front of DynamoDB and one in front of SQS.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { listenOnLoopback } from './emulators/loopback.js';

/** What the proxy does with connections. */
export type ProxyMode = 'pass' | 'reset' | 'hang';

/** A running proxy. */
export interface FaultyProxy {
  /** `http://127.0.0.1:<port>`: give it to clients instead of the service's endpoint. */
  readonly endpoint: string;
  /** The mode now. */
  readonly mode: ProxyMode;
  /** Switches the mode; leaving `pass` drops every open connection. */
  set(mode: ProxyMode): void;
  /** Stops listening and drops every connection; idempotent. */
  close(): Promise<void>;
}

/** Starts a proxy to `target` (`http://host:port`), passing connections through. */
export async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let mode: ProxyMode = 'pass';

  const track = (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // A peer that vanishes is no error of the proxy's.
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'hang') return;
    const upstream = createConnection({ host: hostname, port: Number(port) });
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  const { endpoint } = await listenOnLoopback(server, 0);

  let closed: Promise<void> | undefined;
  return {
    endpoint,
    get mode() {
      return mode;
    },
    set(next) {
      if (next !== 'pass' && mode === 'pass') {
        for (const socket of open) socket.resetAndDestroy();
      }
      mode = next;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
