// Sequelize's "CLS" namespace on AsyncLocalStorage: a query inside db.transaction() joins it without being passed it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Sequelize } from 'sequelize';

/**
 * Why: PGlite is one session, and pglite-socket holds every other connection's queries while one connection is
 * inside a transaction. A query issued inside a transaction on another pool connection would wait for the
 * transaction that waits for it. With this namespace, Sequelize gives every query run inside `transaction(fn)` the
 * transaction itself, so no code path can take a second connection by forgetting `{ transaction }`.
 */
class AsyncLocalNamespace {
  private readonly als = new AsyncLocalStorage<Map<string, unknown>>();

  get(key: string): unknown {
    return this.als.getStore()?.get(key);
  }

  set<T>(key: string, value: T): T {
    this.als.getStore()?.set(key, value);
    return value;
  }

  run<T>(fn: (context: Map<string, unknown>) => T): T {
    const context = new Map(this.als.getStore());
    return this.als.run(context, () => fn(context));
  }

  runPromise<T>(fn: (context: Map<string, unknown>) => Promise<T>): Promise<T> {
    return this.run(fn);
  }

  bind<F extends (...args: unknown[]) => unknown>(fn: F): F {
    const store = this.als.getStore();
    return ((...args: unknown[]) => this.als.run(store ?? new Map(), () => fn(...args))) as F;
  }

  get active(): Map<string, unknown> | undefined {
    return this.als.getStore();
  }
}

let installed = false;

/** Installs the namespace once per process (Sequelize keeps it on the class). */
export function installTransactionContext(): void {
  if (installed) return;
  installed = true;
  Sequelize.useCLS(new AsyncLocalNamespace() as unknown as Parameters<typeof Sequelize.useCLS>[0]);
}
