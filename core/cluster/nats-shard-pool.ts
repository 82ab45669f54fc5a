// The gateway's shards in cluster mode: partitions of the symbols, served by ingest nodes over NATS (core/bus.ts's
// ShardPool, as ThreadShardPool is for threads).
import { randomUUID } from 'node:crypto';
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { FrameKind, type EachAnswer, type ShardInfo, type ShardPool, type ToShard } from '../bus.js';
import type { ShardPoolEvents } from '../shard-pool.js';
import { shardFor } from '../shard-hash.js';
import { TickgateError, type AnyErrorCode, type ErrorRegistry } from '../errors.js';
import { parseChannelName } from '../channel-grammar.js';
import { encodeFrame } from '../protocol.js';
import type { SymbolInfo } from '../symbol-registry.js';
import { openNats, type NatsLink } from './nats-connection.js';
import { LeaseView, type Lease } from './partition-leases.js';
import { decodeClusterFrame, decodeValue, encodeValue, Subjects, type AskReply, type IngestBeat, type OpenReply, type PartitionOp } from './subjects.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** How long an open waits for its partition's owner before it is sent again. */
const OPEN_TIMEOUT_MS = 2000;
const RESYNC_MS = 1000;

interface Wanted {
  partition: number;
  user: boolean;
  sub: Subscription;
  /** The owner's token the open was acknowledged with; 0 while not acknowledged (sent again by the resync). */
  ackedToken: number;
  /** The open waiting for its reply (0: none), and when it was sent. */
  rid: number;
  sentAt: number;
  /** A user channel whose producer (the plugins' onChannel) runs on this gateway. */
  producer: boolean;
}

/** User-channel publications held while their partition has no owner (or NATS is away), at most this many in all. */
const MAX_HELD_PUBLICATIONS = 10_000;
/** How often a gateway tells each partition's owner the full list of its channels there (repairs a lost close). */
const SYNC_MS = 30_000;

interface IngestMember {
  beat: IngestBeat;
  seenAt: number;
  /** Where this node's shards start in the gateway's shard numbering (health, metrics). */
  base: number;
}

export interface NatsShardPoolOptions {
  config: Config;
  log: Logger;
  errors: ErrorRegistry;
  events: ShardPoolEvents;
  /** A frame of a channel this gateway holds. */
  frame(channel: string, kind: FrameKind, seq: number, bytes: Uint8Array, asSnapshot?: boolean): void;
  /** The last data-frame number this gateway saw on a channel (sent with an open, so numbering only moves on). */
  lastSeq(channel: string): number;
  /** Whether this gateway's subscribers were last told the channel is stale. */
  isStale(channel: string): boolean;
  /** A plugin's broadcast from another gateway. */
  pluginBroadcast(plugin: string, event: string, data: unknown): void;
  /** A user channel's producer starts (`open`) or stops running on this gateway (one gateway runs it for all). */
  producer(event: 'open' | 'close', channel: string): void;
}

export class NatsShardPool implements ShardPool {
  readonly gatewayId = randomUUID();
  private link!: NatsLink;
  private view!: LeaseView;
  private readonly subjects: Subjects;
  private readonly wanted = new Map<string, Wanted>();
  private readonly members = new Map<string, IngestMember>();
  private nextBase = 0;
  private readonly bases = new Map<string, number>();
  private readonly subs: Subscription[] = [];
  private timers: NodeJS.Timeout[] = [];
  private symbolsLoaded = false;
  private stopped = false;
  /** Open replies come here, through a subscription: in order with the channels' frames (a request's promise is not). */
  private readonly inbox = `_INBOX.${randomUUID().replace(/-/g, '')}`;
  private nextRid = 1;
  private readonly pendingOpens = new Map<number, string>();
  /** User-channel publications waiting for their partition's owner, in order. */
  private readonly held: Array<{ partition: number; op: PartitionOp }> = [];
  /** Plugin broadcasts made while NATS was away, sent when it is back. */
  private readonly heldBroadcasts: Array<{ plugin: string; body: string }> = [];

  constructor(private readonly opts: NatsShardPoolOptions) {
    this.subjects = new Subjects(opts.config.cluster.subjectPrefix);
  }

  get count(): number {
    return this.opts.config.cluster.partitions;
  }

  shardFor(routeKey: string): number {
    return shardFor(routeKey, this.count);
  }

  get natsConnected(): boolean {
    return this.link?.connected() ?? false;
  }

  /** The cluster as this gateway sees it (health). */
  cluster(): { gateway: string; nats: 'connected' | 'disconnected'; partitions: number; partitionsOwned: number; ingest: Array<{ node: string; partitions: number; symbols: number; ageMs: number }> } {
    const now = Date.now();
    return {
      gateway: this.gatewayId,
      nats: this.natsConnected ? 'connected' : 'disconnected',
      partitions: this.count,
      partitionsOwned: this.view?.owners.size ?? 0,
      ingest: [...this.members.values()].map((m) => ({ node: m.beat.node, partitions: m.beat.partitions.length, symbols: m.beat.symbols.length, ageMs: now - m.seenAt })).sort((a, b) => a.node.localeCompare(b.node)),
    };
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    this.link = await openNats({
      servers: config.cluster.natsServers,
      name: `tickgate-gateway-${config.cluster.nodeName}`,
      bucket: this.subjects.bucket,
      ttlMs: config.cluster.leaseTtlMs,
      log,
      events: { disconnected: () => this.disconnected(), reconnected: () => this.reconnected() },
    });
    const { nc, kv } = this.link;
    this.subs.push(
      nc.subscribe(this.inbox, { callback: (_e, m) => this.onOpenReply(m) }),
      nc.subscribe(this.subjects.gatewayControl(this.gatewayId), { callback: (_e, m) => {
        const c = this.json<{ op: string; channel: string }>(m);
        const w = c && this.wanted.get(c.channel);
        if (c?.op === 'produce' && w?.user && !w.producer) {
          w.producer = true;
          this.opts.producer('open', c.channel);
        }
      } }),
      nc.subscribe(this.subjects.symbols, { callback: (_e, m) => this.onSymbols(m) }),
      nc.subscribe(this.subjects.ingest, { callback: (_e, m) => this.onBeat(m) }),
      nc.subscribe(this.subjects.ingestGone, { callback: (_e, m) => this.forget(this.json<{ node: string }>(m)?.node) }),
      nc.subscribe(this.subjects.report, { queue: 'gateways', callback: (_e, m) => {
        const r = decodeValue<{ plugin: string; event: string; data: unknown }>(m.data);
        if (r) this.opts.events.report(-1, r.plugin, r.event, r.data);
        // Taken: the ingest node sends the next one.
        m.respond('');
      } }),
      nc.subscribe(`${this.subjects.broadcastPrefix}*`, { callback: (_e, m) => {
        const b = this.json<{ gw: string; event: string; data: unknown }>(m);
        if (b && b.gw !== this.gatewayId) this.opts.pluginBroadcast(m.subject.slice(this.subjects.broadcastPrefix.length), b.event, b.data);
      } }),
      nc.subscribe(this.subjects.started, { queue: 'gateways', callback: (_e, m) => {
        const s = this.json<{ partition: number }>(m);
        if (!s || !Number.isInteger(s.partition)) return;
        this.opts.events.ready(s.partition);
        m.respond('');
      } }),
    );
    this.view = new LeaseView(kv, config.cluster.leaseTtlMs, (p, before, after) => this.ownerChanged(p, before, after), log);
    await this.view.start();
    this.beat();
    this.timers = [
      setInterval(() => this.beat(), Math.max(250, Math.floor(config.cluster.gatewayTimeoutMs / 3))),
      setInterval(() => this.resync(), RESYNC_MS),
      setInterval(() => this.syncAll(), SYNC_MS),
    ];
    for (const t of this.timers) t.unref();
    void this.askSymbols();
    log.info({ gateway: this.gatewayId, partitions: this.count, nats: config.cluster.natsServers }, 'gateway joined the cluster');
  }

  private json<T>(m: Msg): T | undefined {
    try {
      return JSON.parse(decoder.decode(m.data)) as T;
    } catch {
      return undefined;
    }
  }

  private beat(): void {
    if (this.natsConnected) this.link.nc.publish(this.subjects.gateways, JSON.stringify({ gw: this.gatewayId }));
    // Ingest nodes silent for a lease's TTL are forgotten (their partitions' leases expire then too): not while this
    // gateway itself cannot hear them.
    if (!this.natsConnected) return;
    const limit = Date.now() - Math.max(3000, this.opts.config.cluster.leaseTtlMs);
    for (const [node, m] of this.members) if (m.seenAt < limit) this.forget(node);
  }

  /** An ingest node that stopped, or went silent: its shards leave health, metrics and the active-symbol count. */
  private forget(node: string | undefined): void {
    const m = node === undefined ? undefined : this.members.get(node);
    if (!m) return;
    this.members.delete(node!);
    for (const sh of m.beat.shards) this.opts.events.stats(emptyStats(m.base + sh.shard));
  }

  /** Asks for the symbol list until an ingest node has it (they publish it on every load as well). */
  private async askSymbols(): Promise<void> {
    while (!this.symbolsLoaded && !this.stopped) {
      try {
        const m = await this.link.nc.request(this.subjects.symbolsGet, '', { timeout: 2000 });
        this.onSymbols(m);
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private onSymbols(m: Msg): void {
    const list = this.json<SymbolInfo[]>(m);
    if (!Array.isArray(list)) return;
    this.symbolsLoaded = true;
    this.opts.events.symbols(list);
  }

  private onBeat(m: Msg): void {
    const beat = this.json<IngestBeat>(m);
    if (!beat?.node) return;
    let member = this.members.get(beat.node);
    if (!member) {
      // A node that comes back keeps its place in the shard numbering (health, metric labels).
      let base = this.bases.get(beat.node);
      if (base === undefined) {
        base = this.nextBase;
        this.nextBase += 64;
        this.bases.set(beat.node, base);
      }
      member = { beat, seenAt: Date.now(), base };
      this.members.set(beat.node, member);
    }
    member.beat = beat;
    member.seenAt = Date.now();
    for (const s of beat.shards) if (s.stats) this.opts.events.stats({ ...s.stats, shard: member.base + s.shard, symbols: s.shard === 0 ? beat.symbols : [] });
  }

  private ownerChanged(partition: number, before: Lease | undefined, after: Lease | undefined): void {
    if (before) this.partitionDown(partition);
    // Opens in flight went to the previous owner: the new one gets them at once.
    for (const w of this.wanted.values()) if (w.partition === partition) this.unacked(w);
    // The server reopens the partition's channels at the new owner (with their last seq, as stale until live); the
    // user channels and held publications follow.
    if (after && this.natsConnected) {
      this.opts.events.up(partition);
      this.resync();
    }
    if (after) this.opts.log.debug({ partition, node: after.node }, before ? 'partition moved to another ingest node' : 'partition has an owner');
    else this.opts.log.debug({ partition, node: before?.node }, 'partition without an owner: its channels are stale');
  }

  /** The partition's channels are stale here, its market channels (the server's down) and its user channels. */
  private partitionDown(partition: number): void {
    this.opts.events.down(partition);
    for (const [channel, w] of this.wanted) {
      if (w.user && w.partition === partition && !this.opts.isStale(channel)) this.opts.frame(channel, FrameKind.STALE, 0, encoder.encode(encodeFrame('status', channel, { state: 'stale' })));
    }
  }

  private disconnected(): void {
    for (let p = 0; p < this.count; p++) if (this.view.owners.has(p)) this.partitionDown(p);
    for (const [channel, w] of this.wanted) {
      this.unacked(w);
      // Its publications are held meanwhile; the owner names a producer again when the channel is reopened.
      if (w.producer) {
        w.producer = false;
        this.opts.producer('close', channel);
      }
    }
  }

  /** Not acknowledged by the current owner: the resync opens it again at once. */
  private unacked(w: Wanted): void {
    w.ackedToken = 0;
    w.rid = 0;
  }

  private reconnected(): void {
    this.beat();
    for (let p = 0; p < this.count; p++) if (this.view.owners.has(p)) this.opts.events.up(p);
    this.resync();
    // Closes made while NATS was away never reached the owners: each is told what this gateway holds.
    this.syncAll();
    for (const b of this.heldBroadcasts.splice(0)) this.link.nc.publish(this.subjects.broadcast(b.plugin), b.body);
  }

  isReady(shard: number): boolean {
    return this.natsConnected && this.view?.owners.has(shard) === true;
  }

  send(shard: number, msg: ToShard): void {
    if (msg.t === 'open') this.open(msg.channel, shard, false, msg.stale ?? false);
    else if (msg.t === 'close') this.close(msg.channel);
    // The symbol list goes from the ingest nodes to their own shards; nothing else crosses.
  }

  broadcast(): void {}

  /** A user channel: opened at the node that numbers it, like a market channel at its producer. */
  userOpen(channel: string): void {
    const parsed = parseChannelName(channel);
    if (parsed) this.open(channel, this.shardFor(parsed.key), true, false);
  }

  userClose(channel: string): void {
    this.close(channel);
  }

  /** Numbered and delivered by the partition's owner; held (in order, bounded) while it has none or NATS is away. */
  userPublish(channel: string, type: string, data: unknown): void {
    const parsed = parseChannelName(channel);
    if (!parsed) return;
    const partition = this.shardFor(parsed.key);
    const op: PartitionOp = { op: 'pub', channel, type, data };
    if (this.isReady(partition) && !this.held.some((h) => h.partition === partition)) {
      this.link.nc.publish(this.subjects.partition(partition), JSON.stringify(op));
      return;
    }
    if (this.held.length >= MAX_HELD_PUBLICATIONS) {
      const dropped = this.held.shift()!;
      this.opts.log.warn({ channel: (dropped.op as { channel: string }).channel, held: MAX_HELD_PUBLICATIONS }, 'user channel frame dropped: too many held while their partitions have no ingest node');
    }
    this.held.push({ partition, op });
  }

  /** To the plugin on every other gateway; held while NATS is away (the other gateways hear it when it is back). */
  broadcastPlugin(plugin: string, event: string, data: unknown): void {
    const body = JSON.stringify({ gw: this.gatewayId, event, data });
    if (this.natsConnected) {
      this.link.nc.publish(this.subjects.broadcast(plugin), body);
      return;
    }
    if (this.heldBroadcasts.length >= MAX_HELD_PUBLICATIONS) this.heldBroadcasts.shift();
    this.heldBroadcasts.push({ plugin, body });
    this.opts.log.warn({ plugin, event }, 'broadcast held: NATS is unavailable (the other gateways hear it once it is back)');
  }

  private open(channel: string, partition: number, user: boolean, stale: boolean): void {
    let w = this.wanted.get(channel);
    if (!w) {
      // Subscribed before the open is sent: no frame published after the owner's answer can be missed.
      const sub = this.link.nc.subscribe(this.subjects.channel(channel), { callback: (_e, m) => this.onFrame(channel, partition, m) });
      w = { partition, user, sub, ackedToken: 0, rid: 0, sentAt: 0, producer: false };
      this.wanted.set(channel, w);
    } else w.ackedToken = 0;
    this.sendOpen(channel, w, stale);
  }

  private sendOpen(channel: string, w: Wanted, stale: boolean): void {
    if (!this.isReady(w.partition)) return;
    if (w.rid !== 0 && Date.now() - w.sentAt < OPEN_TIMEOUT_MS) return;
    // An earlier open stays answerable: an owner slower than the timeout is still heard.
    w.rid = this.nextRid++;
    w.sentAt = Date.now();
    this.pendingOpens.set(w.rid, channel);
    const op: PartitionOp = { op: 'open', gw: this.gatewayId, rid: w.rid, channel, seq: this.opts.lastSeq(channel), stale, user: w.user };
    this.link.nc.publish(this.subjects.partition(w.partition), JSON.stringify(op), { reply: this.inbox });
  }

  /** The owner's answer to an open: its token, the channel's latest frame and state, and (user channel) who produces it. */
  private onOpenReply(m: Msg): void {
    const reply = this.json<OpenReply & { sync?: true; missing?: string[]; producing?: string[] }>(m);
    if (reply?.sync) return this.onSyncReply(reply.missing ?? [], reply.producing ?? [], reply.rid);
    const channel = reply && this.pendingOpens.get(reply.rid);
    if (!reply || channel === undefined) return;
    this.pendingOpens.delete(reply.rid);
    const w = this.wanted.get(channel);
    if (!w) return;
    w.rid = 0;
    const owner = this.view.owners.get(w.partition);
    if (!owner || owner.token !== reply.token) return;
    w.ackedToken = reply.token;
    if (reply.snapshot) this.opts.frame(channel, FrameKind.DATA, reply.seq, encoder.encode(reply.snapshot), true);
    if (reply.stale) {
      if (!this.opts.isStale(channel)) this.opts.frame(channel, FrameKind.STALE, 0, encoder.encode(reply.stale));
    }
    // Stale here (NATS or the owner was lost) and live at the owner: the subscribers hear it is live again.
    else if (this.opts.isStale(channel)) this.opts.frame(channel, FrameKind.LIVE, 0, encoder.encode(encodeFrame('status', channel, { state: 'live' })));
    if (w.user && reply.producer !== w.producer) {
      w.producer = reply.producer;
      this.opts.producer(reply.producer ? 'open' : 'close', channel);
    }
  }

  /** Opens not acknowledged by the partition's current owner are sent again; held publications go once they are. */
  private resync(): void {
    if (!this.natsConnected) return;
    for (const [channel, w] of this.wanted) {
      const owner = this.view.owners.get(w.partition);
      if (owner && w.ackedToken !== owner.token) this.sendOpen(channel, w, true);
    }
    if (this.held.length === 0) return;
    const later: typeof this.held = [];
    // A partition's held publications go once this gateway's channels there are open at its owner (a publication for a
    // channel the owner does not know yet would go nowhere), and keep their order.
    const settled = (p: number) => {
      const owner = this.view.owners.get(p);
      if (!owner || !this.isReady(p)) return false;
      for (const w of this.wanted.values()) if (w.partition === p && w.ackedToken !== owner.token) return false;
      return true;
    };
    for (const h of this.held) {
      if (!later.some((l) => l.partition === h.partition) && settled(h.partition)) {
        try {
          this.link.nc.publish(this.subjects.partition(h.partition), JSON.stringify(h.op));
        } catch (err) {
          this.opts.log.error({ err: (err as Error).message, channel: (h.op as { channel: string }).channel }, 'held user channel frame dropped: it cannot be sent (too large for NATS?)');
        }
      } else later.push(h);
    }
    this.held.splice(0, this.held.length, ...later);
  }

  /** The channel lists each sync sent, by id: the answers come through the inbox, in order with 'produce' messages. */
  private readonly pendingSyncs = new Map<number, string[]>();

  /** Tells every partition's owner which of its channels this gateway holds (it closes the others for this gateway). */
  private syncAll(): void {
    if (!this.natsConnected) return;
    this.pendingSyncs.clear();
    const byPartition = new Map<number, string[]>();
    for (let p = 0; p < this.count; p++) if (this.view.owners.has(p)) byPartition.set(p, []);
    for (const [channel, w] of this.wanted) byPartition.get(w.partition)?.push(channel);
    for (const [partition, channels] of byPartition) {
      const rid = this.nextRid++;
      this.pendingSyncs.set(rid, channels);
      const op: PartitionOp = { op: 'sync', gw: this.gatewayId, rid, channels };
      this.link.nc.publish(this.subjects.partition(partition), JSON.stringify(op), { reply: this.inbox });
    }
  }

  private onSyncReply(missing: string[], producing: string[], rid: number): void {
    const channels = this.pendingSyncs.get(rid);
    if (!channels) return;
    this.pendingSyncs.delete(rid);
    for (const channel of missing) {
      const w = this.wanted.get(channel);
      if (w) this.unacked(w);
    }
    // The owner's word on which user channels this gateway produces (a 'produce' message may have been lost).
    const set = new Set(producing);
    for (const channel of channels) {
      const w = this.wanted.get(channel);
      if (!w?.user || w.ackedToken === 0 || w.producer === set.has(channel)) continue;
      w.producer = set.has(channel);
      this.opts.producer(w.producer ? 'open' : 'close', channel);
    }
  }

  private close(channel: string): void {
    const w = this.wanted.get(channel);
    if (!w) return;
    this.wanted.delete(channel);
    w.sub.unsubscribe();
    for (const [rid, name] of this.pendingOpens) if (name === channel) this.pendingOpens.delete(rid);
    if (w.producer) this.opts.producer('close', channel);
    // Lost while NATS is away: the sync after the reconnection closes it at the owner.
    if (!this.natsConnected) return;
    const op: PartitionOp = { op: 'close', gw: this.gatewayId, channel };
    this.link.nc.publish(this.subjects.partition(w.partition), JSON.stringify(op));
  }

  /** A frame from the partition's owner: only the current lease's token is taken (an earlier owner may still send). */
  private onFrame(channel: string, partition: number, m: Msg): void {
    const frame = decodeClusterFrame(m.data);
    const owner = this.view.owners.get(partition);
    if (!frame || !owner || frame.token !== owner.token) return;
    this.opts.frame(channel, frame.kind, frame.seq, frame.bytes);
  }

  ask(shard: number, plugin: string, question: string, params: unknown, symbol: string, timeoutMs: number): Promise<unknown> {
    if (!this.isReady(shard)) return Promise.reject(new TickgateError('TG_ERR_DATA_UNAVAILABLE', this.natsConnected ? 'No ingest node serves this symbol right now (one is taking it over): retry in a few seconds' : 'This gateway lost its connection to the cluster (NATS): retry in a few seconds'));
    const op: PartitionOp = { op: 'ask', plugin, question, params, symbol, timeoutMs };
    let payload: Uint8Array;
    try {
      payload = this.payload(op, `${plugin} asks "${question}"`);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.link.nc.request(this.subjects.partition(shard), payload, { timeout: timeoutMs + 500 }).then(
      (m) => {
        const reply = decodeValue<AskReply>(m.data);
        if (!reply) throw new TickgateError('TG_ERR_INTERNAL');
        if (reply.ok) return reply.data;
        throw this.toError(reply.error);
      },
      (err: unknown) => {
        if (err instanceof TickgateError) throw err;
        throw new TickgateError('TG_ERR_DATA_UNAVAILABLE', 'The ingest node serving this symbol did not answer: retry in a few seconds');
      },
    );
  }

  /** A question as structured clone keeps it; one that cannot cross (a function, or over NATS's max_payload) throws. */
  private payload(value: unknown, what: string): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(value);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, `${what}: its parameters cannot cross to the ingest node (not cloneable)`);
      throw new TickgateError('TG_ERR_INTERNAL');
    }
    const max = this.link.nc.info?.max_payload ?? Infinity;
    if (bytes.byteLength > max) {
      this.opts.log.error({ bytes: bytes.byteLength, maxPayload: max }, `${what}: its parameters are larger than NATS's max_payload (raise max_payload on the NATS servers)`);
      throw new TickgateError('TG_ERR_INTERNAL');
    }
    return bytes;
  }

  private toError(e: { code: string; message: string; hint?: string }): TickgateError {
    return this.opts.errors.get(e.code) ? new TickgateError(e.code as AnyErrorCode, e.message, e.hint) : new TickgateError('TG_ERR_INTERNAL');
  }

  /** Every shard of every ingest node: one question per node, answers numbered like info(). */
  async askEach(plugin: string, question: string, params: unknown, timeoutMs: number): Promise<EachAnswer[]> {
    const out: EachAnswer[] = [];
    let payload: Uint8Array;
    try {
      payload = this.payload({ plugin, question, params, timeoutMs }, `${plugin} asks every shard "${question}"`);
    } catch (err) {
      return [...this.members.values()].map((m) => ({ shard: m.base, ok: false as const, error: err as TickgateError }));
    }
    await Promise.all([...this.members.values()].map(async (member) => {
      try {
        const m = await this.link.nc.request(this.subjects.node(member.beat.node), payload, { timeout: timeoutMs + 500 });
        const answers = decodeValue<Array<{ shard: number; ok: boolean; data?: unknown; error?: { code: string; message: string; hint?: string } }>>(m.data) ?? [];
        for (const a of answers) out.push(a.ok ? { shard: member.base + a.shard, ok: true, data: a.data } : { shard: member.base + a.shard, ok: false, error: this.toError(a.error!) });
      } catch {
        out.push({ shard: member.base, ok: false, error: new TickgateError('TG_ERR_DATA_UNAVAILABLE', `Ingest node ${member.beat.node} did not answer: retry in a few seconds`) });
      }
    }));
    return out.sort((a, b) => a.shard - b.shard);
  }

  /** The ingest nodes' shard threads, as their heartbeats report them. */
  info(): ShardInfo[] {
    const out: ShardInfo[] = [];
    for (const m of this.members.values()) for (const s of m.beat.shards) out.push({ ...s, shard: m.base + s.shard, stats: s.stats ? { ...s.stats, shard: m.base + s.shard } : undefined });
    return out.sort((a, b) => a.shard - b.shard);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.view?.stop();
    if (!this.link) return;
    if (this.natsConnected) this.link.nc.publish(this.subjects.gatewayGone, JSON.stringify({ gw: this.gatewayId }));
    await this.link.nc.drain().catch(() => this.link.nc.close());
  }
}

function emptyStats(shard: number): import('../bus.js').ShardStats {
  return { t: 'stats', shard, channels: 0, streams: [], symbols: [], priceCache: 0, connections: [], restUsedWeight: 0, bookResyncs: 0, conflated: 0, dataFrames: 0, behindMs: 0, loopDelay: { p50: 0, p99: 0, max: 0 }, plugins: {} };
}
