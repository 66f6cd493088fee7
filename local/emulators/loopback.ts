/**
 * Listening on loopback only: the local stack's servers (emulators, provider simulator) accept
 * any credentials, so they must never be reachable from the network.
 */
import type { AddressInfo, Server } from 'node:net';

/** Starts `server` (HTTP or plain TCP) on 127.0.0.1 (`port` 0: a free one) and resolves with its endpoint and port. */
export async function listenOnLoopback(
  server: Server,
  port = 0,
): Promise<{ endpoint: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${address.port}`, port: address.port };
}
