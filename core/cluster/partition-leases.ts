// Who owns each partition of the symbols: leases in a JetStream key-value bucket, watched by every node, held by ingest nodes.
import { randomInt } from 'node:crypto';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/transport-node';
import type { Logger } from '../logger.js';
import { fnv1a } from '../shard-hash.js';

export interface Lease {
  node: string;
  /** Random per claim: frames carry it, so a gateway drops what an earlier owner of the partition still sends. */
  token: number;
  /** When this node last saw it written (claimed or renewed). */
  seenAt: number;
}

const PARTITION_KEY = /^p\.(\d+)$/;
const MEMBER_KEY = /^m\.(.+)$/;

/**
 * Every node's view of the leases. The bucket's TTL removes a lease its owner stopped renewing, but a watcher is not
 * told (NATS 2.9 writes no marker): a lease not renewed within the TTL is treated as gone here, and a new claim can
 * only be written once the server has removed it.
 */
export class LeaseView {
  readonly owners = new Map<number, Lease>();
  /** Ingest nodes by name, with when their member key was last written. */
  readonly members = new Map<string, number>();
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly kv: KV,
    private readonly ttlMs: number,
    private readonly changed: (partition: number, before: Lease | undefined, after: Lease | undefined) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.watch();
    this.timer = setInterval(() => this.expire(), Math.max(200, Math.floor(this.ttlMs / 6)));
    this.timer.unref();
  }

  /** (Re)starts the watch: every key's current value, then each change. */
  private async watch(): Promise<void> {
    this.watcher?.stop();
    const watcher = await this.kv.watch({ key: '>' });
    this.watcher = watcher;
    void (async () => {
      try {
        for await (const e of watcher) this.apply(e);
      } catch (err) {
        if (!this.stopped) this.log.warn({ err: (err as Error).message }, 'lease watch ended: watching again');
      }
      if (!this.stopped && this.watcher === watcher) setTimeout(() => void this.watch().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'cannot watch the lease bucket: trying again')), 1000).unref();
    })();
  }

  private apply(e: KvWatchEntry): void {
    const now = Date.now();
    // A value from before the watch started counts from when it was written (it may be nearly expired).
    const seenAt = e.isUpdate ? now : Math.min(now, Math.max(now - this.ttlMs, e.created.getTime()));
    const member = MEMBER_KEY.exec(e.key);
    if (member) {
      if (e.operation === 'PUT') this.members.set(member[1]!, seenAt);
      else this.members.delete(member[1]!);
      return;
    }
    const m = PARTITION_KEY.exec(e.key);
    if (!m) return;
    const partition = Number(m[1]);
    const before = this.owners.get(partition);
    if (e.operation !== 'PUT') {
      if (before) {
        this.owners.delete(partition);
        this.changed(partition, before, undefined);
      }
      return;
    }
    let value: { node: string; token: number };
    try {
      value = e.json<{ node: string; token: number }>();
    } catch {
      return;
    }
    if (before && before.node === value.node && before.token === value.token) {
      before.seenAt = seenAt;
      return;
    }
    const after = { node: value.node, token: value.token, seenAt };
    this.owners.set(partition, after);
    this.changed(partition, before, after);
  }

  /** Leases and members not renewed within the TTL are gone (their node died or lost NATS). */
  private expire(): void {
    const limit = Date.now() - this.ttlMs;
    for (const [partition, lease] of this.owners) {
      if (lease.seenAt >= limit) continue;
      this.owners.delete(partition);
      this.changed(partition, lease, undefined);
    }
    for (const [node, seenAt] of this.members) if (seenAt < limit) this.members.delete(node);
  }

  /** Partitions per live ingest node (members without a partition count 0). */
  loads(): Map<string, number> {
    const out = new Map<string, number>();
    for (const node of this.members.keys()) out.set(node, 0);
    for (const lease of this.owners.values()) out.set(lease.node, (out.get(lease.node) ?? 0) + 1);
    return out;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.watcher?.stop();
  }
}

export interface LeaseHooks {
  /** Before a claim is written: get ready to serve (subscribe its subject) with this token. */
  prepare(partition: number, token: number): void;
  /** The claim was written: the partition is this node's. */
  gained(partition: number, token: number): void;
  /** The claim failed, the renewal failed, or the partition was given up: stop serving it. */
  lost(partition: number, why: string): void;
}

/**
 * An ingest node's leases: it claims partitions up to its fair share (all of them when it is alone), renews them,
 * gives some up when another node holds fewer, and claims any partition left without an owner.
 */
export class LeaseHolder {
  readonly held = new Map<number, { token: number; revision: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Partitions seen without an owner, since when: one left so for a TTL is claimed whatever the shares say. */
  private readonly freeSince = new Map<number, number>();

  constructor(
    private readonly kv: KV,
    private readonly view: LeaseView,
    private readonly node: string,
    private readonly partitions: number,
    private readonly ttlMs: number,
    private readonly hooks: LeaseHooks,
    private readonly log: Logger,
  ) {}

  start(): void {
    // Renewals need a round every third of the TTL; balancing wants one every few seconds whatever the TTL.
    this.timer = setInterval(() => void this.tick(), Math.max(200, Math.min(2000, Math.floor(this.ttlMs / 3))));
    this.timer.unref();
    void this.tick();
  }

  private value(token: number): string {
    return JSON.stringify({ node: this.node, token });
  }

  /** One round: renew, then balance. Never two at once. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    try {
      await this.kv.put(`m.${this.node}`, JSON.stringify({ at: Date.now() }));
      // The member key is written before anything is claimed: other nodes count this one in the shares.
      this.view.members.set(this.node, Date.now());
      await this.renew();
      await this.balance();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'lease round failed (NATS unavailable?): trying again');
    }
  }

  private async renew(): Promise<void> {
    await Promise.all([...this.held].map(async ([partition, lease]) => {
      try {
        lease.revision = await this.kv.update(`p.${partition}`, this.value(lease.token), lease.revision);
      } catch (err) {
        if (this.stopped || this.held.get(partition) !== lease) return;
        // NATS briefly unreachable: the lease may still be ours; the next round tries again (past the TTL, the
        // reconnection drops every lease, and a renewal of one claimed since fails as a conflict).
        if (!isConflict(err)) return;
        this.held.delete(partition);
        this.hooks.lost(partition, `its lease was taken over: ${(err as Error).message}`);
      }
    }));
  }

  private async balance(): Promise<void> {
    const loads = this.view.loads();
    loads.set(this.node, this.held.size);
    const share = Math.ceil(this.partitions / Math.max(1, loads.size));
    const now = Date.now();
    const start = fnv1a(this.node) % this.partitions;
    for (let i = 0; i < this.partitions && !this.stopped; i++) {
      const partition = (start + i) % this.partitions;
      if (this.held.has(partition) || this.view.owners.has(partition)) {
        this.freeSince.delete(partition);
        continue;
      }
      const since = this.freeSince.get(partition) ?? now;
      this.freeSince.set(partition, since);
      const orphan = now - since >= this.ttlMs;
      if (this.held.size >= share && !orphan) continue;
      await this.claim(partition);
    }
    // Give up a few partitions to a node below its share (it claims them on its next round).
    const least = Math.min(...[...loads.values()]);
    let extra = Math.min(this.held.size - share, share - least, 4);
    for (const partition of [...this.held.keys()].reverse()) {
      if (extra-- <= 0) break;
      await this.release(partition, 'given to an ingest node with fewer partitions');
    }
  }

  private async claim(partition: number): Promise<void> {
    const token = randomInt(1, 0xffffffff);
    this.hooks.prepare(partition, token);
    try {
      const revision = await this.kv.create(`p.${partition}`, this.value(token));
      this.held.set(partition, { token, revision });
      this.freeSince.delete(partition);
      this.hooks.gained(partition, token);
    } catch (err) {
      // Another node claimed it first, or its expired lease is not removed yet: the next round looks again.
      this.hooks.lost(partition, `not claimed: ${(err as Error).message}`);
    }
  }

  async release(partition: number, why: string): Promise<void> {
    const lease = this.held.get(partition);
    if (!lease) return;
    this.held.delete(partition);
    this.hooks.lost(partition, why);
    try {
      await this.kv.delete(`p.${partition}`, { previousSeq: lease.revision });
    } catch (err) {
      this.log.warn({ partition, err: (err as Error).message }, 'lease not deleted: it expires');
    }
  }

  /** Gives every partition up at once (an orderly stop): the other nodes take them without waiting for the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // A round under way may still claim: it ends first, so that what it claimed is given up below too.
    await this.running;
    // The member first: the others count their shares without this node when they see its partitions freed.
    await this.kv.delete(`m.${this.node}`).catch(() => undefined);
    await Promise.all([...this.held.keys()].map((p) => this.release(p, 'this node is stopping')));
  }

  /** NATS was lost for longer than the TTL: the leases are gone whatever the server says later. */
  dropAll(why: string): void {
    for (const partition of [...this.held.keys()]) {
      this.held.delete(partition);
      this.hooks.lost(partition, why);
    }
  }
}

/** JetStream's "wrong last sequence" (10071): the key was written (or removed) by someone else since. */
function isConflict(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === 10071 || (typeof e.message === 'string' && e.message.includes('wrong last sequence'));
}
