// The ingest role: shard threads and exchange connections, serving the partitions it leases to the gateways over NATS.
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { FrameKind, type FrameBatch, type ShardInfo } from '../bus.js';
import { ThreadShardPool } from '../shard-pool.js';
import { PluginHost } from '../plugin-host.js';
import { ErrorRegistry, TickgateError } from '../errors.js';
import { ChannelRegistry } from '../channel-registry.js';
import { parseChannelName } from '../channel-grammar.js';
import { shardFor } from '../shard-hash.js';
import { encodeDataFrame, encodeFrame } from '../protocol.js';
import type { SymbolInfo } from '../symbol-registry.js';
import { openNats, type NatsLink } from './nats-connection.js';
import { LeaseHolder, LeaseView } from './partition-leases.js';
import { decodeValue, encodeClusterFrame, encodeValue, isValue, Subjects, type AskReply, type IngestBeat, type OpenReply, type PartitionOp } from './subjects.js';

interface IngestChannel {
  partition: number;
  subject: string;
  /** Produced here (a user channel, numbered by this node) rather than by a shard. */
  user: boolean;
  /** Gateways with subscribers. */
  gateways: Set<string>;
  /** A user channel: the one gateway whose plugins produce it (onChannel), while it holds the channel. */
  producer: string | undefined;
  seq: number;
  /** The latest data frame and, while stale, the status frame: what a gateway that opens it late gets at once. */
  snapshot: Uint8Array | undefined;
  stale: Uint8Array | undefined;
  /** Its data frames are changes: `snapshot` is the whole state sent beside them (FrameKind.SNAPSHOT), not the latest frame. */
  deltas?: boolean;
}

const HEARTBEAT_MS = 1000;
/** How long after a claim publications on user channels not open yet are kept for their reopening. */
const UNOPENED_GRACE_MS = 5000;
/** Shard reports waiting for a gateway to take them (a fill is money: they are kept, in order, until one does). */
const MAX_HELD_REPORTS = 100_000;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export interface IngestStatus {
  role: 'ingest';
  node: string;
  nats: 'connected' | 'disconnected';
  partitions: number[];
  members: string[];
  channels: number;
  gateways: number;
  symbolsLoaded: boolean;
  shards: ShardInfo[];
  /** Frames published on NATS since start (each once, on its channel's subject), and their bytes with the header. */
  published: { frames: number; bytes: number };
}

export class IngestNode {
  private pool!: ThreadShardPool;
  private link!: NatsLink;
  private view!: LeaseView;
  private holder!: LeaseHolder;
  private readonly subjects: Subjects;
  private readonly errors = new ErrorRegistry();
  /** Partitions this node serves: their lease token and control subscription. */
  private readonly owned = new Map<number, { token: number; sub: Subscription; serving: boolean; early: Msg[]; gainedAt: number }>();
  /**
   * Publications on user channels not open here yet, shortly after a partition was claimed: after a move, a gateway's
   * held publication may arrive before the gateway that holds the channel has reopened it. Numbered at that open.
   */
  private readonly unopened = new Map<string, Array<{ type: string; data: unknown }>>();
  private readonly channels = new Map<string, IngestChannel>();
  /** Gateways heard from, by id, with when. */
  private readonly gateways = new Map<string, number>();
  private readonly subs: Subscription[] = [];
  private lastSymbols: SymbolInfo[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private disconnectedAt = 0;
  private readonly reports: Uint8Array[] = [];
  private reporting = false;
  private readonly published = { frames: 0, bytes: 0 };
  private stopping = false;

  private constructor(private readonly config: Config, private readonly log: Logger) {
    this.subjects = new Subjects(config.cluster.subjectPrefix);
  }

  static async start(config: Config, log: Logger): Promise<IngestNode> {
    const node = new IngestNode(config, log.child({ node: config.cluster.nodeName }));
    try {
      await node.boot();
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  get name(): string {
    return this.config.cluster.nodeName;
  }

  private partitionOf(key: string): number {
    return shardFor(key, this.config.cluster.partitions);
  }

  private partitionOfChannel(channel: string): number {
    const parsed = parseChannelName(channel);
    return parsed ? this.partitionOf(parsed.key) : -1;
  }

  /** The local shard thread of a partition: a partition lives whole on one thread. */
  private localShard(partition: number): number {
    return partition % this.config.shards;
  }

  private async boot(): Promise<void> {
    const { config, log } = this;
    // NATS first: without it an ingest node has nothing to do, and opens no exchange connection.
    this.link = await openNats({
      servers: config.cluster.natsServers,
      name: `tickgate-ingest-${this.name}`,
      bucket: this.subjects.bucket,
      ttlMs: config.cluster.leaseTtlMs,
      log,
      events: {
        disconnected: () => {
          this.disconnectedAt = Date.now();
        },
        reconnected: () => {
          // Every gateway gets a fresh chance to be heard (their beats were not arriving meanwhile).
          for (const gw of this.gateways.keys()) this.gateways.set(gw, Date.now());
          // Past the TTL the leases are gone: serving them now would compete with their new owners.
          if (Date.now() - this.disconnectedAt >= config.cluster.leaseTtlMs) this.holder?.dropAll('NATS was lost for longer than cluster.leaseTtlMs');
          this.disconnectedAt = 0;
          void this.holder?.tick();
          this.pumpReports();
        },
      },
    });
    const host = PluginHost.forShardHalves(log, this.errors, new ChannelRegistry(this.errors));
    await host.loadShardHalves(config.plugins);
    this.pool = new ThreadShardPool({
      config,
      plugins: host.shardRefs,
      log: log.child({ component: 'shards' }),
      errors: this.errors,
      events: {
        frames: (batch) => this.onFrames(batch),
        stats: () => undefined,
        symbols: (list) => {
          this.lastSymbols = list;
          this.pool.broadcast({ t: 'symbols', symbols: list });
          if (this.link?.connected()) this.link.nc.publish(this.subjects.symbols, JSON.stringify(list));
        },
        symbolsFailed: (message) => log.warn({ err: message }, 'exchange symbol list not loaded'),
        report: (_shard, plugin, event, data) => {
          if (this.reports.length >= MAX_HELD_REPORTS) {
            this.log.error({ plugin, event, held: MAX_HELD_REPORTS }, 'shard report dropped: no gateway has taken reports for a long time');
            return;
          }
          let bytes: Uint8Array;
          try {
            bytes = encodeValue({ plugin, event, data });
          } catch (err) {
            this.log.error({ plugin, event, err: (err as Error).message }, 'shard report dropped: it cannot cross to a gateway (not cloneable)');
            return;
          }
          const max = this.link.nc.info?.max_payload ?? Infinity;
          if (bytes.byteLength > max) {
            this.log.error({ plugin, event, bytes: bytes.byteLength, maxPayload: max }, 'shard report dropped: larger than NATS\'s max_payload');
            return;
          }
          this.reports.push(bytes);
          this.pumpReports();
        },
        down: (shard) => this.shardDown(shard),
        ready: (shard) => {
          if (this.lastSymbols) this.pool.send(shard, { t: 'symbols', symbols: this.lastSymbols });
        },
        up: (shard) => this.shardUp(shard),
      },
    });
    await this.pool.start();
    const { nc, kv } = this.link;
    this.subs.push(
      nc.subscribe(this.subjects.gateways, { callback: (_e, m) => this.heardGateway(m) }),
      nc.subscribe(this.subjects.gatewayGone, { callback: (_e, m) => this.gatewayGone(this.json<{ gw: string }>(m)?.gw) }),
      nc.subscribe(this.subjects.symbolsGet, { queue: 'ingest', callback: (_e, m) => {
        if (this.lastSymbols) m.respond(JSON.stringify(this.lastSymbols));
      } }),
      nc.subscribe(this.subjects.node(this.name), { callback: (_e, m) => void this.onNodeAsk(m) }),
    );
    // A partition given up or expired is claimed on the next round, started at once (an orderly stop hands over at once).
    this.view = new LeaseView(kv, config.cluster.leaseTtlMs, (_p, _before, after) => {
      if (!after) this.soon();
    }, log);
    await this.view.start();
    this.holder = new LeaseHolder(kv, this.view, this.name, config.cluster.partitions, config.cluster.leaseTtlMs, {
      prepare: (partition, token) => this.prepare(partition, token),
      gained: (partition) => this.gained(partition),
      lost: (partition, why) => this.lost(partition, why),
    }, log.child({ component: 'leases' }));
    this.holder.start();
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    log.info({ node: this.name, shards: config.shards, partitions: config.cluster.partitions, nats: config.cluster.natsServers }, `tickgate ingest node ${this.name} running`);
  }

  private soonTimer: NodeJS.Timeout | undefined;

  /** A lease round shortly (several changes at once make one round). */
  private soon(): void {
    this.soonTimer ??= setTimeout(() => {
      this.soonTimer = undefined;
      void this.holder?.tick();
    }, 50);
  }

  private json<T>(m: Msg): T | undefined {
    try {
      return JSON.parse(decoder.decode(m.data)) as T;
    } catch {
      return undefined;
    }
  }

  private prepare(partition: number, token: number): void {
    const sub = this.link.nc.subscribe(this.subjects.partition(partition), { callback: (_e, m) => this.onPartitionOp(partition, m) });
    this.owned.set(partition, { token, sub, serving: false, early: [], gainedAt: 0 });
  }

  private gained(partition: number): void {
    const own = this.owned.get(partition);
    if (!own) return;
    own.serving = true;
    own.gainedAt = Date.now();
    // What gateways sent between the claim and now (they saw the lease first) is served now, in order.
    for (const m of own.early.splice(0)) this.onPartitionOp(partition, m);
    setTimeout(() => {
      for (const channel of this.unopened.keys()) if (this.partitionOfChannel(channel) === partition) this.unopened.delete(channel);
    }, UNOPENED_GRACE_MS).unref();
    this.log.debug({ partition }, 'partition claimed: its symbols are served from this node');
    this.noteChange();
    this.announceStarted(partition, own.token);
  }

  /**
   * Shard reports go to one gateway each (a queue group), in order, each kept until a gateway acknowledges it: at least
   * once, as a report that crosses a lost connection may arrive twice (the trading plugin commits a fill once by its
   * trade id).
   */
  private pumpReports(): void {
    if (this.reporting || this.reports.length === 0 || !this.link?.connected()) return;
    this.reporting = true;
    this.link.nc.request(this.subjects.report, this.reports[0]!, { timeout: 5000 }).then(
      () => {
        this.reports.shift();
        this.reporting = false;
        this.pumpReports();
      },
      () => {
        this.reporting = false;
        setTimeout(() => this.pumpReports(), 1000).unref();
      },
    );
  }

  /**
   * One gateway runs the plugins' onShardStart for the partition (resting orders are handed over by one, not by every
   * gateway): asked until one answers, so a partition claimed before any gateway runs is announced when one does.
   */
  private announceStarted(partition: number, token: number): void {
    const own = this.owned.get(partition);
    if (this.stopping || !own?.serving || own.token !== token) return;
    this.link.nc.request(this.subjects.started, JSON.stringify({ partition }), { timeout: 2000 }).catch(() => {
      setTimeout(() => this.announceStarted(partition, token), 2000).unref();
    });
  }

  private lost(partition: number, why: string): void {
    const own = this.owned.get(partition);
    if (!own) return;
    this.owned.delete(partition);
    own.sub.unsubscribe();
    if (own.serving) {
      this.log.debug({ partition, why }, 'partition no longer served from this node');
      this.noteChange(why);
    }
    for (const [name, ch] of this.channels) {
      if (ch.partition !== partition) continue;
      this.channels.delete(name);
      if (!ch.user) this.pool.send(this.localShard(partition), { t: 'close', channel: name });
    }
    // What plugins keep for the partition's symbols (resting orders and their listeners) goes with it.
    if (own.serving) this.pool.send(this.localShard(partition), { t: 'release', partitions: [partition], of: this.config.cluster.partitions });
  }

  private changeTimer: NodeJS.Timeout | undefined;
  private readonly changeReasons = new Set<string>();

  /** Claims and losses come in rounds: one log line says what this node serves after each. */
  private noteChange(why?: string): void {
    if (why) this.changeReasons.add(why);
    this.changeTimer ??= setTimeout(() => {
      this.changeTimer = undefined;
      const partitions = [...this.owned].filter(([, o]) => o.serving).map(([p]) => p).sort((a, b) => a - b);
      const reasons = [...this.changeReasons];
      this.changeReasons.clear();
      const fields = { partitions: partitions.length, of: this.config.cluster.partitions, members: this.view ? [...this.view.members.keys()] : [], ...(reasons.length ? { lostBecause: reasons } : {}) };
      if (reasons.some((r) => !r.startsWith('given to'))) this.log.warn(fields, `this node now serves ${partitions.length} of ${this.config.cluster.partitions} partitions`);
      else this.log.info(fields, `this node now serves ${partitions.length} of ${this.config.cluster.partitions} partitions`);
    }, 250);
    this.changeTimer.unref();
  }

  private onPartitionOp(partition: number, m: Msg): void {
    const op = isValue(m.data) ? decodeValue<PartitionOp>(m.data) : this.json<PartitionOp>(m);
    const own = this.owned.get(partition);
    if (!op || !own) return;
    // Subscribed before the claim is written: until it is known to be ours, what arrives waits (another node may
    // have won the claim: then it is dropped with the partition).
    if (!own.serving) {
      if (own.early.length < 10_000) own.early.push(m);
      return;
    }
    switch (op.op) {
      case 'open': return this.open(partition, own.token, op, m);
      case 'sync': return this.sync(partition, op.gw, op.rid, op.channels, m);
      case 'close': return this.close(op.gw, op.channel);
      case 'pub': return this.publishUser(op.channel, op.type, op.data, own.token);
      case 'ask': return void this.ask(partition, op, m);
    }
  }

  private open(partition: number, token: number, op: Extract<PartitionOp, { op: 'open' }>, m: Msg): void {
    const parsed = parseChannelName(op.channel);
    if (!parsed || this.partitionOf(parsed.key) !== partition) return;
    this.gateways.set(op.gw, Date.now());
    let ch = this.channels.get(op.channel);
    if (!ch) {
      // Reopened after a move (or a lost connection): stale for every gateway until its shard reports it live.
      const stale = op.stale && !op.user ? encoder.encode(encodeFrame('status', op.channel, { state: 'stale' })) : undefined;
      ch = { partition, subject: this.subjects.channel(op.channel), user: op.user, gateways: new Set(), producer: undefined, seq: op.seq, snapshot: undefined, stale };
      this.channels.set(op.channel, ch);
      if (!op.user) this.pool.send(this.localShard(partition), { t: 'open', channel: op.channel, seq: op.seq, stale: op.stale });
      else {
        const waiting = this.unopened.get(op.channel);
        this.unopened.delete(op.channel);
        for (const p of waiting ?? []) this.publishUser(op.channel, p.type, p.data, token);
      }
    } else if (op.seq > ch.seq) {
      ch.seq = op.seq;
      if (!op.user) this.pool.send(this.localShard(partition), { t: 'open', channel: op.channel, seq: op.seq });
    }
    ch.gateways.add(op.gw);
    if (ch.user) ch.producer ??= op.gw;
    const reply: OpenReply = {
      rid: op.rid,
      token,
      producer: ch.user && ch.producer === op.gw,
      seq: ch.seq,
      snapshot: ch.snapshot ? decoder.decode(ch.snapshot) : undefined,
      stale: ch.stale ? decoder.decode(ch.stale) : undefined,
    };
    m.respond(JSON.stringify(reply));
  }

  private close(gw: string, channel: string): void {
    const ch = this.channels.get(channel);
    if (!ch || !ch.gateways.delete(gw)) return;
    if (ch.gateways.size > 0) {
      // The user channel's producer left: another gateway that holds it produces it from now on.
      if (ch.producer === gw) {
        ch.producer = ch.gateways.values().next().value!;
        if (this.link.connected()) this.link.nc.publish(this.subjects.gatewayControl(ch.producer), JSON.stringify({ op: 'produce', channel }));
      }
      return;
    }
    this.channels.delete(channel);
    if (!ch.user) this.pool.send(this.localShard(ch.partition), { t: 'close', channel });
  }

  /**
   * A gateway's full list of this partition's channels it holds: the ones it no longer holds are closed for it (a close
   * lost with a connection), and it is told which of its channels this node does not know it holds (it opens them).
   */
  private sync(partition: number, gw: string, rid: number, list: string[], m: Msg): void {
    this.gateways.set(gw, Date.now());
    const held = new Set(list);
    for (const [name, ch] of [...this.channels]) if (ch.partition === partition && ch.gateways.has(gw) && !held.has(name)) this.close(gw, name);
    const missing = list.filter((name) => !this.channels.get(name)?.gateways.has(gw));
    // Which of its user channels it produces: repairs a 'produce' message lost on the way.
    const producing = list.filter((name) => this.channels.get(name)?.producer === gw);
    m.respond(JSON.stringify({ sync: true, rid, missing, producing }));
  }

  private publishUser(channel: string, type: string, data: unknown, token: number): void {
    const ch = this.channels.get(channel);
    if (!ch?.user) {
      // Just after a claim the gateway holding it may not have reopened it yet: kept for a moment.
      const own = this.owned.get(this.partitionOfChannel(channel));
      if (!ch && own && Date.now() - own.gainedAt < UNOPENED_GRACE_MS) {
        const list = this.unopened.get(channel) ?? [];
        if (list.length < 100) list.push({ type, data });
        this.unopened.set(channel, list);
      }
      // Otherwise no gateway has a subscriber: nobody would get it (as in one process).
      return;
    }
    ch.seq++;
    const bytes = encoder.encode(encodeDataFrame(type, channel, ch.seq, data));
    ch.snapshot = bytes;
    const message = encodeClusterFrame(FrameKind.DATA, token, ch.seq, bytes);
    this.link.nc.publish(ch.subject, message);
    this.published.frames++;
    this.published.bytes += message.byteLength;
  }

  private async ask(partition: number, op: Extract<PartitionOp, { op: 'ask' }>, m: Msg): Promise<void> {
    let reply: AskReply;
    try {
      reply = { ok: true, data: await this.pool.ask(this.localShard(partition), op.plugin, op.question, op.params, op.symbol, op.timeoutMs) };
    } catch (err) {
      reply = { ok: false, error: errorOf(err) };
    }
    this.respondValue(m, reply);
  }

  /** A question for every shard of this node (AcceptorApi.askEach across the cluster). */
  private async onNodeAsk(m: Msg): Promise<void> {
    const op = decodeValue<{ plugin: string; question: string; params: unknown; timeoutMs: number }>(m.data);
    if (!op) return;
    const answers = await this.pool.askEach(op.plugin, op.question, op.params, op.timeoutMs);
    this.respondValue(m, answers.map((a) => (a.ok ? a : { shard: a.shard, ok: false, error: errorOf(a.error) })));
  }

  /** An answer as structured clone keeps it; one that cannot cross (a function, or over NATS's max_payload) is an error. */
  private respondValue(m: Msg, value: unknown): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(value);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'a plugin\'s answer cannot cross to the gateway (not cloneable): answered TG_ERR_INTERNAL');
      bytes = encodeValue({ ok: false, error: { code: 'TG_ERR_INTERNAL', message: 'Internal error: the server logged the cause' } });
    }
    const max = this.link.nc.info?.max_payload ?? Infinity;
    if (bytes.byteLength > max) {
      this.log.error({ bytes: bytes.byteLength, maxPayload: max }, 'a plugin\'s answer is larger than NATS\'s max_payload: answered TG_ERR_INTERNAL (raise max_payload on the NATS servers)');
      bytes = encodeValue({ ok: false, error: { code: 'TG_ERR_INTERNAL', message: 'Internal error: the server logged the cause' } });
    }
    m.respond(bytes);
  }

  /** Frames of the local shards go out once each, on their channel's subject, while this node owns the partition. */
  private onFrames(batch: FrameBatch): void {
    if (!this.link) return;
    // Without NATS the frames go nowhere (the client drops them), but the channels' state still follows them.
    const connected = this.link.connected();
    const { channels, kinds, seqs, ends, buf } = batch;
    const nc = this.link.nc;
    let start = 0;
    for (let i = 0; i < channels.length; i++) {
      const end = ends[i]!;
      const name = channels[i]!;
      const ch = this.channels.get(name);
      const own = ch && this.owned.get(ch.partition);
      if (ch && own?.serving) {
        const bytes = new Uint8Array(buf, start, end - start);
        const kind = kinds[i] as FrameKind;
        if (kind === FrameKind.DATA) {
          ch.seq = seqs[i]!;
          if (!ch.deltas) ch.snapshot = bytes.slice();
        } else if (kind === FrameKind.SNAPSHOT) {
          // A delta channel's whole state: what a gateway that opens the channel later gets first.
          ch.snapshot = bytes.slice();
          ch.deltas = true;
        } else if (kind === FrameKind.RAW) ch.seq = seqs[i]!;
        else if (kind === FrameKind.STALE) ch.stale = bytes.slice();
        else if (kind === FrameKind.LIVE) ch.stale = undefined;
        else if (kind === FrameKind.FAILED) this.channels.delete(name);
        if (connected) {
          const message = encodeClusterFrame(kind, own.token, seqs[i]!, bytes);
          nc.publish(ch.subject, message);
          this.published.frames++;
          this.published.bytes += message.byteLength;
        }
      }
      start = end;
    }
  }

  /** A local shard thread died: its channels are stale for every gateway until it is back. */
  private shardDown(shard: number): void {
    for (const [name, ch] of this.channels) {
      const own = this.owned.get(ch.partition);
      if (ch.user || !own || this.localShard(ch.partition) !== shard) continue;
      ch.stale = encoder.encode(encodeFrame('status', name, { state: 'stale' }));
      if (this.link.connected()) this.link.nc.publish(ch.subject, encodeClusterFrame(FrameKind.STALE, own.token, 0, ch.stale));
    }
  }

  private shardUp(shard: number): void {
    for (const [name, ch] of this.channels) {
      if (ch.user || this.localShard(ch.partition) !== shard) continue;
      this.pool.send(shard, { t: 'open', channel: name, seq: ch.seq, stale: true });
    }
    for (const [partition, own] of this.owned) {
      if (own.serving && this.localShard(partition) === shard) this.announceStarted(partition, own.token);
    }
  }

  private heardGateway(m: Msg): void {
    const beat = this.json<{ gw: string }>(m);
    if (beat?.gw) this.gateways.set(beat.gw, Date.now());
  }

  /** A gateway that stopped (or went silent): its interest in every channel ends. */
  private gatewayGone(gw: string | undefined): void {
    if (!gw || !this.gateways.delete(gw)) return;
    for (const [name, ch] of [...this.channels]) if (ch.gateways.has(gw)) this.close(gw, name);
    this.log.info({ gateway: gw }, 'gateway gone: its channels closed here');
  }

  /** Heartbeat with stats for the gateways' health, and forgets gateways that went silent. */
  private beat(): void {
    // Without NATS no gateway can be heard: they are forgotten only for silence while this node can hear them.
    if (!this.link.connected()) return;
    const limit = Date.now() - this.config.cluster.gatewayTimeoutMs;
    for (const [gw, at] of [...this.gateways]) if (at < limit) this.gatewayGone(gw);
    const shards = this.pool.info();
    const symbols = new Set<string>();
    for (const s of shards) for (const sym of s.stats?.symbols ?? []) symbols.add(sym);
    const beat: IngestBeat = {
      node: this.name,
      partitions: [...this.owned].filter(([, o]) => o.serving).map(([p]) => p).sort((a, b) => a - b),
      symbols: [...symbols],
      shards,
      symbolsLoaded: this.lastSymbols !== undefined,
    };
    this.link.nc.publish(this.subjects.ingest, JSON.stringify(beat));
  }

  status(): IngestStatus {
    return {
      role: 'ingest',
      node: this.name,
      nats: this.link?.connected() ? 'connected' : 'disconnected',
      partitions: [...this.owned].filter(([, o]) => o.serving).map(([p]) => p).sort((a, b) => a - b),
      members: this.view ? [...this.view.members.keys()].sort() : [],
      channels: this.channels.size,
      gateways: this.gateways.size,
      symbolsLoaded: this.lastSymbols !== undefined,
      shards: this.pool?.info() ?? [],
      published: { ...this.published },
    };
  }

  /** Gives the partitions up (the other ingest nodes take them at once), stops the shards, closes NATS. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
    if (this.holder) await this.holder.stop().catch(() => undefined);
    if (this.link?.connected()) this.link.nc.publish(this.subjects.ingestGone, JSON.stringify({ node: this.name }));
    this.view?.stop();
    for (const s of this.subs) s.unsubscribe();
    if (this.pool) await this.pool.stop();
    // What the shards reported (fills) reaches a gateway before the connection closes, within a bound.
    const deadline = Date.now() + this.config.server.drainTimeoutMs;
    while ((this.reports.length > 0 || this.reporting) && this.link?.connected() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.reports.length) this.log.error({ reports: this.reports.length }, 'shard reports not delivered before the stop: no gateway took them');
    if (this.link) await this.link.nc.drain().catch(() => this.link.nc.close());
    this.log.info('ingest node stopped');
  }
}

function errorOf(err: unknown): { code: string; message: string; hint?: string } {
  if (err instanceof TickgateError) return err.hint === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, hint: err.hint };
  return { code: 'TG_ERR_INTERNAL', message: 'Internal error: the server logged the cause' };
}
