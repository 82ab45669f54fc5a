// A TCP proxy for tests: cuts or stalls the connections through it, as a network failure would.
import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy (in front of NATS, or of a gateway): `cut()` closes every connection through it and refuses new ones,
 * `restore()` lets them connect again, `stall()` stops forwarding without closing.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private open = true;
  port = 0;

  constructor(private target: { host: string; port: number }) {}

  /** New connections go to another server from now on (one that replaced the first, on another port). */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (!this.open) {
        client.destroy();
        return;
      }
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  wsUrl(path = '/ws'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Stops forwarding without closing anything: to each end the other has gone silent (a dead connection). */
  stall(): void {
    for (const s of this.sockets) {
      s.unpipe();
      s.pause();
    }
  }

  cut(): void {
    this.open = false;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
