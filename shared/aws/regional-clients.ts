/**
 * One AWS SDK client per region, made on first use and kept in a bounded cache. An SDK client
 * signs every request for the region it was made for, so a message for a queue or topic in
 * another region needs a client of that region; a client per message would open a connection
 * pool per message.
 */

/** What a cached client may offer: `destroy()` closes its connections when it is evicted. */
export interface Destroyable {
  destroy?(): void;
}

/** Makes the client for `region`; `undefined`: the caller's own region (the SDK's chain). */
export type ClientFactory<C> = (region: string | undefined) => C;

/** Clients kept unless the constructor says otherwise: far more regions than a deployment uses. */
export const DEFAULT_MAX_REGIONAL_CLIENTS = 32;

/**
 * A bounded cache of clients by region, least recently used evicted first. The destinations a
 * dispatcher sends to are allowlisted in the configuration, so in practice the cache holds one
 * client per configured region and never evicts; the bound keeps it so whatever happens.
 */
export class RegionalClients<C extends Destroyable> {
  readonly #create: ClientFactory<C>;
  readonly #max: number;
  readonly #clients = new Map<string, C>();

  constructor(create: ClientFactory<C>, maxClients = DEFAULT_MAX_REGIONAL_CLIENTS) {
    if (!Number.isInteger(maxClients) || maxClients < 1) {
      throw new RangeError(`maxClients must be a positive integer, not ${maxClients}`);
    }
    this.#create = create;
    this.#max = maxClients;
  }

  /** The client for `region` (`undefined`: the default region), made on first use. */
  get(region: string | undefined): C {
    const key = region ?? '';
    const cached = this.#clients.get(key);
    if (cached !== undefined) {
      // Map keeps insertion order: re-inserting marks it most recently used.
      this.#clients.delete(key);
      this.#clients.set(key, cached);
      return cached;
    }
    const client = this.#create(region);
    this.#clients.set(key, client);
    if (this.#clients.size > this.#max) {
      const [oldestKey, oldest] = this.#clients.entries().next().value as [string, C];
      this.#clients.delete(oldestKey);
      oldest.destroy?.();
    }
    return client;
  }

  /** The regions with a client, least recently used first (`''`: the default region). */
  regions(): string[] {
    return [...this.#clients.keys()];
  }

  /** Closes every client. */
  destroy(): void {
    for (const client of this.#clients.values()) client.destroy?.();
    this.#clients.clear();
  }
}
