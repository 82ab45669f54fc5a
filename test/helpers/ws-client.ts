// A plain WebSocket test client (the `ws` package, as any Node user would have) with frame waiting helpers.
import WebSocket from 'ws';

export interface Frame {
  type: string;
  channel?: string;
  data?: any;
  timestamp: string;
  [k: string]: unknown;
}

export class TestClient {
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  private readonly consumed = new Set<number>();
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | undefined;
  /** The client library's last error (an invalid frame from the server, a reset): shown when a wait fails on a close. */
  lastError: Error | undefined;
  private closeWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      this.raw.push(text);
      this.frames.push(isBinary ? { type: '<binary>', timestamp: '' } : (JSON.parse(text) as Frame));
      for (const w of this.waiters) w();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
      for (const w of this.waiters) w();
    });
    ws.on('error', (err) => {
      this.lastError = err;
    });
  }

  /** Connects and waits for the server's "connected" frame. */
  static async connect(url: string, opts?: WebSocket.ClientOptions): Promise<TestClient> {
    const ws = new WebSocket(url, opts);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await client.next((f) => f.type === 'connected');
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  subscribe(...channels: string[]): void {
    this.send({ type: 'subscribe', channels });
  }

  unsubscribe(...channels: string[]): void {
    this.send({ type: 'unsubscribe', channels });
  }

  /** The first not-yet-taken frame matching `pred`, waiting for it if needed. */
  next(pred: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = 0; i < this.frames.length; i++) {
          if (this.consumed.has(i)) continue;
          if (pred(this.frames[i]!)) {
            this.consumed.add(i);
            done();
            resolve(this.frames[i]!);
            return true;
          }
        }
        if (this.closed) {
          done();
          reject(new Error(`connection closed (${this.closed.code}${this.lastError ? `, ${this.lastError.message}` : ''}) before the awaited frame arrived; got: ${this.raw.slice(-5).join(' | ')}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for a frame; last frames: ${this.raw.slice(-5).join(' | ')}`));
      }, timeoutMs);
      const waiter = () => void check();
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.waiters.push(waiter);
    });
  }

  /** Index of a frame in arrival order. */
  indexOf(frame: Frame): number {
    return this.frames.indexOf(frame);
  }

  waitClose(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  /** Round trip: proves the connection still answers. */
  async ping(): Promise<Frame> {
    this.send({ type: 'ping' });
    return this.next((f) => f.type === 'pong');
  }

  close(): void {
    if (!this.closed) this.ws.close();
  }
}

export async function connectAll(url: string, n: number): Promise<TestClient[]> {
  return Promise.all(Array.from({ length: n }, () => TestClient.connect(url)));
}

/** An upgrade the server refuses: its HTTP status and JSON body (fails if the server accepts it). */
export function refusedUpgrade(url: string, opts?: WebSocket.ClientOptions): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.on('open', () => {
      ws.close();
      reject(new Error(`the upgrade to ${url.replace(/(token|apiKey)=[^&]+/g, '$1=…')} was accepted`));
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    ws.on('error', () => {});
  });
}
