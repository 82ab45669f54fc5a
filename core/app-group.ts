// The uWS apps the gateway serves from: one, except while a TLS certificate is replaced. A new app (the new
// certificate) takes new connections on the same port; the old one keeps its open connections until they end.
import type { HttpRequest, HttpResponse, RecognizedString, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;

/** What the HTTP router registers routes on. */
export interface RouteTarget {
  get(pattern: string, handler: Handler): unknown;
  post(pattern: string, handler: Handler): unknown;
  put(pattern: string, handler: Handler): unknown;
  patch(pattern: string, handler: Handler): unknown;
  del(pattern: string, handler: Handler): unknown;
  options(pattern: string, handler: Handler): unknown;
  head(pattern: string, handler: Handler): unknown;
  any(pattern: string, handler: Handler): unknown;
}

/** What the fan-out publishes to. */
export interface Publisher {
  publish(topic: RecognizedString, message: RecognizedString, isBinary?: boolean): boolean;
  /** Whether data frames go out compressed to the clients that negotiated permessage-deflate (server.compression). */
  readonly compress: boolean;
}

interface Generation {
  app: TemplatedApp;
  id: number;
  connections: number;
  listen: us_listen_socket | undefined;
  /** When a replaced app may be closed: its HTTP requests in flight and keep-alive connections have ended by then. */
  retireAt: number;
}

export class AppGroup implements Publisher {
  private readonly registrations: Array<(app: TemplatedApp, generation: number) => void> = [];
  private generations: Generation[];
  private nextId = 1;

  constructor(
    first: TemplatedApp,
    private readonly closeListen: (token: us_listen_socket) => void,
    /** How long a replaced app keeps serving HTTP (the longest a route may take, and uWS's 10 s keep-alive). */
    private readonly httpGraceMs: number,
    readonly compress = false,
  ) {
    this.generations = [{ app: first, id: 0, connections: 0, listen: undefined, retireAt: 0 }];
  }

  /** The app that takes new connections. */
  get current(): Generation {
    return this.generations[this.generations.length - 1]!;
  }

  /** How many apps serve now (2 while the connections of a replaced certificate end). */
  get size(): number {
    return this.generations.length;
  }

  /** Registers on every app, and on every app made later. */
  register(fn: (app: TemplatedApp, generation: number) => void): void {
    this.registrations.push(fn);
    for (const g of this.generations) fn(g.app, g.id);
  }

  readonly routes: RouteTarget = {
    get: (p, h) => this.register((app) => app.get(p, h)),
    post: (p, h) => this.register((app) => app.post(p, h)),
    put: (p, h) => this.register((app) => app.put(p, h)),
    patch: (p, h) => this.register((app) => app.patch(p, h)),
    del: (p, h) => this.register((app) => app.del(p, h)),
    options: (p, h) => this.register((app) => app.options(p, h)),
    head: (p, h) => this.register((app) => app.head(p, h)),
    any: (p, h) => this.register((app) => app.any(p, h)),
  };

  publish(topic: RecognizedString, message: RecognizedString, isBinary?: boolean): boolean {
    const g = this.generations;
    if (g.length === 1) return g[0]!.app.publish(topic, message, isBinary, this.compress);
    let ok = true;
    for (let i = 0; i < g.length; i++) ok = g[i]!.app.publish(topic, message, isBinary, this.compress) && ok;
    return ok;
  }

  listening(token: us_listen_socket): void {
    this.current.listen = token;
  }

  opened(generation: number): void {
    const g = this.generations.find((x) => x.id === generation);
    if (g) g.connections++;
  }

  closed(generation: number): void {
    const g = this.generations.find((x) => x.id === generation);
    if (!g) return;
    g.connections--;
    this.retire(g);
  }

  /**
   * Serves new connections from `app` (every registration replayed on it) once `listen` has it listening; the old
   * app stops listening and keeps its open connections until they end. Throws (and changes nothing) if `listen` fails.
   */
  async replace(app: TemplatedApp, listen: (app: TemplatedApp) => Promise<us_listen_socket>): Promise<void> {
    const next: Generation = { app, id: this.nextId++, connections: 0, listen: undefined, retireAt: 0 };
    for (const fn of this.registrations) fn(app, next.id);
    try {
      next.listen = await listen(app);
    } catch (err) {
      (app as TemplatedApp & { close(): void }).close();
      throw err;
    }
    const old = this.generations;
    this.generations = [...old, next];
    const retireAt = Date.now() + this.httpGraceMs;
    for (const g of old) {
      if (g.listen) this.closeListen(g.listen);
      g.listen = undefined;
      g.retireAt = Math.max(g.retireAt, retireAt);
    }
    // HTTP connections cannot be counted: the old app keeps serving them for the grace, then goes with its last
    // WebSocket (closed() calls retire again).
    setTimeout(() => {
      for (const g of old) this.retire(g);
    }, this.httpGraceMs + 10).unref();
  }

  /** An app that no longer listens and has no WebSocket connection left is closed (its idle HTTP ones with it). */
  private retire(g: Generation): void {
    if (g === this.current || g.listen || g.connections > 0 || Date.now() < g.retireAt || !this.generations.includes(g)) return;
    this.generations = this.generations.filter((x) => x !== g);
    (g.app as TemplatedApp & { close(): void }).close();
  }

  /** Stops listening everywhere (a drain). */
  stopListening(): void {
    for (const g of this.generations) {
      if (g.listen) this.closeListen(g.listen);
      g.listen = undefined;
    }
  }

  /** Force-closes every app and what is left on it (app.close is in this uWS build, not in its declarations). */
  closeAll(): void {
    for (const g of this.generations) (g.app as TemplatedApp & { close(): void }).close();
  }
}
