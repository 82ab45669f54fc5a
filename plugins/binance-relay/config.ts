// The relay's options (plugins: - name: binance-relay, config: {…} in config.yaml), with Binance's limits as defaults.
import { z } from 'zod';

export const configSchema = z.object({
  /**
   * Besides /ws/<stream> and /stream at the root, the same endpoints and the bare /ws (which the root leaves to
   * tickgate's own protocol) under this path: ws://HOST/binance/ws. '' serves the root ones only.
   */
  basePath: z.string().regex(/^(|\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)$/, 'a path such as /binance, or empty').default('/binance'),
  /** Streams one connection may hold (Binance: 1024). */
  maxStreamsPerConnection: z.number().int().min(1).max(10_000).default(1024),
  /** Messages a connection may send per second, ping and pong frames included, before it is closed (Binance: 5). */
  messagesPerSecond: z.number().int().min(1).max(1000).default(5),
  /** Largest message a client may send; a larger one ends the connection. */
  maxMessageBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024),
  /** Serve GET /api/v3/depth from the local books (the snapshot a client keeping a book from the diff stream needs). */
  restDepth: z.boolean().default(true),
  /** How long GET /api/v3/depth waits for a book that is being built before answering -1001. */
  depthWaitMs: z.number().int().min(0).max(30_000).default(5000),
  /** GET /api/v3/depth keeps a symbol's book open this long after the last request. */
  depthIdleMs: z.number().int().min(1000).max(3_600_000).default(60_000),
}).strict();

export type RelayConfig = z.output<typeof configSchema>;
