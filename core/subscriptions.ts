// Acceptor-side channel table: subscribers per channel, first/last subscriber opens/closes it at its shard, snapshots.
import type { WebSocket } from 'uWebSockets.js';
import type { Publisher } from './app-group.js';
import { FrameKind, type FrameBatch } from './bus.js';
import type { Logger } from './logger.js';
import { encodeDataFrame, encodeFrame, markRecovered, markSnapshot } from './protocol.js';
import type { WatchedFrame } from './plugin-api.js';
import type { KindCounts } from './metrics.js';
import type { ChannelHistory, Unrecoverable } from './channel-history.js';

/**
 * How long the acceptor publishes one batch before it gives the event loop a turn (sockets, timers, HTTP): a batch
 * goes out whole in the common case, and in slices of this much time when it is large (many subscribers, a plugin
 * watching its frames, a CPU-starved acceptor).
 */
export const PUBLISH_SLICE_MS = 50;

export interface Subscriber {
  id: string;
  /**
   * The client's channels: an exact-size array of the channel table's own name strings. A client holds at most
   * limits.maxChannelsPerClient of them, and per-connection memory is what fan-out scales by (a Set of 20 names
   * took 360 bytes of heap, this array 176).
   */
  channels: string[];
  closed: boolean;
}

interface ChannelEntry {
  /** The channel's name: the one string every subscriber's channel list refers to. */
  name: string;
  /** Subscriber count (uWS keeps the subscribers themselves, as topic members). */
  subscribers: number;
  /** Shard that produces it, or -1 for a channel produced on the acceptor. */
  shard: number;
  /** Latest data frame: sent to a new subscriber right after "subscribed", marked "snapshot": true. */
  snapshot: Uint8Array | undefined;
  /** The snapshot's marked copy, made on the first subscriber that needs it. */
  marked: Uint8Array | undefined;
  /** The status stale frame while the channel is stale. */
  stale: Uint8Array | undefined;
  /** Plugins holding the channel (AcceptorApi.watch): counted as subscribers, called with each frame. */
  watchers: Array<(frame: WatchedFrame) => void> | undefined;
  /** Plugins holding a raw channel (AcceptorApi.watchRaw): counted as subscribers, handed each raw frame's bytes. */
  raw: RawWatcher[] | undefined;
  /** What clients were sent on channels of this one's kind (metrics), shared by the kind's channels. */
  sent: KindCounts;
  /** Set while the channel stays open without subscribers (history.keepOpenMs), so a client back soon misses nothing. */
  linger: NodeJS.Timeout | undefined;
  /** Its data frames are changes: the snapshot is the whole state its producer sends beside each (FrameKind.SNAPSHOT). */
  deltas: boolean;
}

/** A plugin holding a raw channel (AcceptorApi.watchRaw). */
export interface RawWatcher {
  /** A raw data frame's bytes: a view into the shard's batch (copy it to keep it). */
  frame(bytes: Uint8Array): void;
  /** The channel failed and is closed: no more frames come for this hold. */
  ended?(): void;
}

export interface ShardLink {
  open(shard: number, channel: string, seq: number): void;
  close(shard: number, channel: string): void;
  isUp(shard: number): boolean;
  /** A channel produced on the acceptor (shard -1) gained its first subscriber, or lost its last. */
  local(event: 'open' | 'close', channel: string): void;
  /**
   * In cluster mode the acceptor-produced (user) channels are numbered by one node for every gateway: these carry their
   * opening, closing and publications there, and frames come back through publishFrame.
   */
  user?: {
    open(channel: string, seq: number): void;
    close(channel: string): void;
    publish(channel: string, type: string, data: unknown): void;
  };
}

export class Subscriptions {
  private readonly channels = new Map<string, ChannelEntry>();
  /** Last data-frame sequence number per channel name since start: numbering continues when a channel reopens. */
  private readonly seqs = new Map<string, number>();
  /** Frames and bytes sent to clients per channel kind since start: added once per published frame, read by metrics. */
  readonly sent = new Map<string, KindCounts>();
  /**
   * The last seq of each channel when it last closed: nothing was produced while it was closed, so a client that saw
   * no later frame cannot be told it missed nothing.
   */
  private readonly closedAt = new Map<string, number>();

  constructor(
    private readonly app: Publisher,
    private readonly shards: ShardLink,
    private readonly log: Logger,
    /** Every open socket: walked only when a channel fails, to find its subscribers. */
    private readonly sockets: () => Iterable<WebSocket<Subscriber>>,
    /** Recent frames per channel, for clients that subscribe with `since` (undefined: history is off). */
    private readonly history?: ChannelHistory,
    /** How long a channel stays open after its last subscriber left (with history on), for clients that come back. */
    private readonly keepOpenMs = 0,
  ) {}

  /** Adds a subscriber; opens the channel at its producer on the first one, and sends the current snapshot. */
  add(ws: WebSocket<Subscriber>, channel: string, shard: number): void {
    const { entry, first } = this.entryFor(channel, shard);
    entry.subscribers++;
    ws.getUserData().channels.push(entry.name);
    ws.subscribe(channel);
    if (first) this.opened(entry);
  }

  private entryFor(channel: string, shard: number): { entry: ChannelEntry; first: boolean } {
    const known = this.channels.get(channel);
    if (known) {
      if (known.linger) {
        clearTimeout(known.linger);
        known.linger = undefined;
      }
      return { entry: known, first: false };
    }
    const kind = channel.slice(0, channel.indexOf(':'));
    let sent = this.sent.get(kind);
    if (!sent) this.sent.set(kind, (sent = { frames: 0, bytes: 0 }));
    const entry: ChannelEntry = { name: channel, subscribers: 0, shard, snapshot: undefined, marked: undefined, stale: undefined, watchers: undefined, raw: undefined, sent, linger: undefined, deltas: false };
    this.channels.set(channel, entry);
    return { entry, first: true };
  }

  private opened(entry: ChannelEntry): void {
    const { name: channel, shard } = entry;
    if (shard >= 0) {
      this.shards.open(shard, channel, this.lastSeq(channel));
      // Its shard is restarting: the channel is stale until the shard reopens it (see server's shard "up").
      if (!this.shards.isUp(shard)) entry.stale = Buffer.from(encodeFrame('status', channel, { state: 'stale' }));
    } else if (this.shards.user) {
      // In a cluster one gateway runs the producer for all (the channel's owner says which): not necessarily this one.
      this.shards.user.open(channel, this.lastSeq(channel));
    } else {
      // After the caller's "subscribed" frame: a frame the producer publishes at once must come after it.
      queueMicrotask(() => {
        if (this.channels.get(channel) === entry) this.shards.local('open', channel);
      });
    }
  }

  /** The last subscriber left: the channel closes now, or after history.keepOpenMs if nobody comes back. */
  private closed(entry: ChannelEntry): void {
    if (this.history && this.keepOpenMs > 0) {
      entry.linger = setTimeout(() => {
        entry.linger = undefined;
        if (entry.subscribers === 0 && this.channels.get(entry.name) === entry) this.closeNow(entry);
      }, this.keepOpenMs);
      return;
    }
    this.closeNow(entry);
  }

  private closeNow(entry: ChannelEntry): void {
    this.channels.delete(entry.name);
    this.closedAt.set(entry.name, this.lastSeq(entry.name));
    if (entry.shard >= 0) this.shards.close(entry.shard, entry.name);
    else if (this.shards.user) this.shards.user.close(entry.name);
    else this.shards.local('close', entry.name);
  }

  /** A plugin holds the channel (AcceptorApi.watch): it counts as a subscriber and hears every frame. */
  addWatcher(channel: string, shard: number, fn: (frame: WatchedFrame) => void): () => void {
    const { entry, first } = this.entryFor(channel, shard);
    entry.subscribers++;
    (entry.watchers ??= []).push(fn);
    if (first) this.opened(entry);
    else if (entry.snapshot) {
      const marked = (entry.marked ??= markSnapshot(entry.snapshot));
      queueMicrotask(() => this.tell(fn, marked));
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const e = this.channels.get(channel);
      const at = e?.watchers?.indexOf(fn) ?? -1;
      if (!e || at < 0) return;
      e.watchers!.splice(at, 1);
      if (e.watchers!.length === 0) e.watchers = undefined;
      if (--e.subscribers === 0) this.closed(e);
    };
  }

  /**
   * A plugin holds a raw channel (AcceptorApi.watchRaw): it counts as a subscriber and is handed every raw frame's
   * bytes as the shard made them (no snapshot: a raw channel keeps none).
   */
  addRawWatcher(channel: string, shard: number, watcher: RawWatcher): () => void {
    const { entry, first } = this.entryFor(channel, shard);
    entry.subscribers++;
    // Replaced, never changed in place: a frame being handed out goes on over the list it started with.
    entry.raw = [...(entry.raw ?? []), watcher];
    if (first) this.opened(entry);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const e = this.channels.get(channel);
      if (!e?.raw?.includes(watcher)) return;
      e.raw = e.raw.filter((w) => w !== watcher);
      if (e.raw.length === 0) e.raw = undefined;
      if (--e.subscribers === 0) this.closed(e);
    };
  }

  /** Hands a frame to a watcher: parsed here, as only watched channels are (the clients' fan-out never parses). */
  private tell(fn: (frame: WatchedFrame) => void, bytes: Uint8Array | WatchedFrame): void {
    try {
      fn(bytes instanceof Uint8Array ? JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as WatchedFrame : bytes);
    } catch (err) {
      this.log.error({ err }, 'a plugin watching a channel failed on a frame (contained)');
    }
  }

  private contained(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'a plugin holding a raw channel failed when it ended (contained)');
    }
  }

  /** Sends what a new subscriber should know at once: the latest value, then a stale status if the channel is stale. */
  sendSnapshot(ws: WebSocket<Subscriber>, channel: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    if (entry.snapshot) {
      entry.marked ??= markSnapshot(entry.snapshot);
      ws.send(entry.marked, false, this.app.compress);
    }
    if (entry.stale) ws.send(entry.stale, false);
  }

  /**
   * What a client that last saw `after` on a channel missed, from the history: the frames after it (none when it is
   * up to date), or why they cannot be given (history off, a seq from a later numbering, frames no longer kept).
   */
  missed(channel: string, after: number): Uint8Array[] | Unrecoverable | 'disabled' {
    if (!this.history) return 'disabled';
    const closed = this.closedAt.get(channel);
    if (closed !== undefined && after <= closed) return 'closed';
    return this.history.since(channel, after, this.lastSeq(channel));
  }

  /** Sends recovered frames, each marked `"recovered": true`, then the channel's stale status if it is stale. */
  sendRecovered(ws: WebSocket<Subscriber>, channel: string, frames: Uint8Array[]): void {
    for (const frame of frames) ws.send(markRecovered(frame), false, this.app.compress);
    const stale = this.channels.get(channel)?.stale;
    if (stale) ws.send(stale, false);
  }

  remove(ws: WebSocket<Subscriber>, channel: string, socketOpen: boolean): void {
    const mine = ws.getUserData().channels;
    const at = mine.indexOf(channel);
    if (at < 0) return;
    mine.splice(at, 1);
    if (socketOpen) ws.unsubscribe(channel);
    const entry = this.channels.get(channel);
    if (!entry) return;
    if (--entry.subscribers === 0) this.closed(entry);
  }

  /** Called from the socket's close handler: uWS has already dropped its topics. */
  removeAll(ws: WebSocket<Subscriber>): void {
    const user = ws.getUserData();
    const mine = user.channels;
    user.channels = [];
    for (const channel of mine) {
      const entry = this.channels.get(channel);
      if (entry && --entry.subscribers === 0) this.closed(entry);
    }
  }

  /** PUBLISH_SLICE_MS; 0 (tests) publishes one frame per turn. */
  publishSliceMs = PUBLISH_SLICE_MS;

  /**
   * Publishes one shard batch: each frame's bytes go to uWS's native fan-out as they are, never re-parsed. A batch
   * that takes longer than `publishSliceMs` is published a slice per event-loop turn, so sockets, timers and HTTP
   * requests get a turn between slices; the promise says when the whole batch is out (the shard sends its next batch
   * only then, so a channel's frames never overtake each other).
   */
  publishBatch(batch: FrameBatch): void | Promise<void> {
    const next = this.publishSlice(batch, 0);
    if (next === batch.channels.length) return;
    return new Promise<void>((resolve, reject) => {
      const step = (from: number) => {
        try {
          const at = this.publishSlice(batch, from);
          if (at === batch.channels.length) resolve();
          else setImmediate(step, at);
        } catch (err) {
          reject(err as Error);
        }
      };
      setImmediate(step, next);
    });
  }

  /** Publishes frames from `from` for about `publishSliceMs`; returns where it stopped. */
  private publishSlice(batch: FrameBatch, from: number): number {
    const { channels, kinds, seqs, ends, buf } = batch;
    const until = performance.now() + this.publishSliceMs;
    let start = from === 0 ? 0 : ends[from - 1]!;
    for (let i = from; i < channels.length; i++) {
      const end = ends[i]!;
      try {
        this.publishFrame(channels[i]!, kinds[i] as FrameKind, seqs[i]!, new Uint8Array(buf, start, end - start));
      } catch (err) {
        // One frame's failure is that frame's: the rest of the batch still goes out.
        this.log.error({ err, channel: channels[i] }, 'publishing a frame failed: frame skipped');
      }
      start = end;
      if (performance.now() >= until) return i + 1;
    }
    return channels.length;
  }

  /**
   * Publishes one frame of a channel's producer (a shard, or in cluster mode an ingest node). A data frame numbered at
   * or below the last one seen is a copy (a snapshot that crossed a live update) and is skipped.
   */
  publishFrame(channel: string, kind: FrameKind, seq: number, bytes: Uint8Array, asSnapshot = false): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    if (kind === FrameKind.RAW) {
      if (seq <= (this.seqs.get(channel) ?? 0)) return;
      this.seqs.set(channel, seq);
      const list = entry.raw;
      if (list) {
        for (let i = 0; i < list.length; i++) {
          try {
            list[i]!.frame(bytes);
          } catch (err) {
            this.log.error({ err, channel }, 'a plugin holding a raw channel failed on a frame (contained)');
          }
        }
      }
      return;
    }
    // Kept frames are copied: a view would keep the whole batch buffer alive for as long as the channel lives.
    if (kind === FrameKind.SNAPSHOT) {
      // The state after the change of the same seq, which follows: not published, not history.
      if (seq <= (this.seqs.get(channel) ?? 0)) return;
      entry.snapshot = bytes.slice();
      entry.marked = undefined;
      entry.deltas = true;
      return;
    }
    if (kind === FrameKind.DATA) {
      if (seq <= (this.seqs.get(channel) ?? 0)) return;
      const kept = bytes.slice();
      if (!entry.deltas || asSnapshot) {
        entry.snapshot = kept;
        entry.marked = undefined;
      }
      this.seqs.set(channel, seq);
      this.history?.record(channel, seq, kept);
      // The latest frame from before this gateway opened the channel: its subscribers get it as on any gateway.
      if (asSnapshot) bytes = entry.marked = markSnapshot(kept);
    } else if (kind === FrameKind.STALE) entry.stale = bytes.slice();
    else if (kind === FrameKind.LIVE) entry.stale = undefined;
    if (entry.watchers) for (const fn of [...entry.watchers]) this.tell(fn, bytes);
    // A failed channel's subscribers are unsubscribed at once: a published frame would be lost with the
    // subscription, so its error frame goes to each of them directly.
    if (kind === FrameKind.FAILED) this.dropChannel(channel, entry, bytes);
    else {
      this.app.publish(channel, bytes, false);
      this.tally(entry, bytes.byteLength);
    }
  }

  /** A frame published to the channel's client subscribers (its watchers are plugins, not clients). */
  private tally(entry: ChannelEntry, bytes: number): void {
    const n = entry.subscribers - (entry.watchers?.length ?? 0);
    if (n <= 0) return;
    entry.sent.frames += n;
    entry.sent.bytes += n * bytes;
  }

  /** Open channels and their subscribers, per kind (metrics; walks the channel table). */
  perKind(): Map<string, { channels: number; subscribers: number }> {
    const out = new Map<string, { channels: number; subscribers: number }>();
    for (const kind of this.sent.keys()) out.set(kind, { channels: 0, subscribers: 0 });
    for (const entry of this.channels.values()) {
      const kind = entry.name.slice(0, entry.name.indexOf(':'));
      const k = out.get(kind)!;
      k.channels++;
      k.subscribers += entry.subscribers - (entry.watchers?.length ?? 0) - (entry.raw?.length ?? 0);
    }
    return out;
  }

  /** What the history keeps (undefined when it is off). */
  historyStats(): { channels: number; frames: number; bytes: number } | undefined {
    return this.history?.stats();
  }

  isStale(channel: string): boolean {
    return this.channels.get(channel)?.stale !== undefined;
  }

  lastSeq(channel: string): number {
    return this.seqs.get(channel) ?? 0;
  }

  /** Publishes a data frame produced on the acceptor (private channels), numbered like the shards' frames. */
  publishData(channel: string, type: string, data: unknown): void {
    // In cluster mode the channel's one numbering node publishes it to every gateway with subscribers, this one too.
    if (this.shards.user) return this.shards.user.publish(channel, type, data);
    const entry = this.channels.get(channel);
    if (!entry) return;
    const seq = this.lastSeq(channel) + 1;
    this.seqs.set(channel, seq);
    const bytes = Buffer.from(encodeDataFrame(type, channel, seq, data));
    entry.snapshot = bytes;
    entry.marked = undefined;
    this.history?.record(channel, seq, bytes);
    this.app.publish(channel, bytes, false);
    this.tally(entry, bytes.byteLength);
    if (entry.watchers) for (const fn of [...entry.watchers]) this.tell(fn, { type, channel, seq, data });
  }

  /** Publishes a status frame produced on the acceptor (the status of a shard that went down). */
  publishLocal(channel: string, text: string, kind: FrameKind): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    const bytes = Buffer.from(text);
    if (kind === FrameKind.STALE) entry.stale = bytes;
    else if (kind === FrameKind.LIVE) entry.stale = undefined;
    this.app.publish(channel, bytes, false);
  }

  /** A channel whose producer failed: every subscriber is unsubscribed (the error frame told them why) and told so. */
  private dropChannel(channel: string, entry: ChannelEntry, error: Uint8Array): void {
    this.log.warn({ channel, subscribers: entry.subscribers }, 'channel failed: unsubscribing its clients');
    const notice = encodeFrame('unsubscribed', channel, undefined);
    for (const ws of [...this.sockets()]) {
      const user = ws.getUserData();
      const at = user.channels.indexOf(channel);
      if (user.closed || at < 0) continue;
      user.channels.splice(at, 1);
      ws.unsubscribe(channel);
      ws.cork(() => {
        ws.send(error, false);
        ws.send(notice, false);
      });
    }
    if (entry.watchers) for (const fn of entry.watchers) this.tell(fn, { type: 'unsubscribed', channel });
    entry.watchers = undefined;
    if (entry.raw) for (const w of entry.raw) this.contained(() => w.ended?.());
    entry.raw = undefined;
    clearTimeout(entry.linger);
    this.channels.delete(channel);
    this.closedAt.set(channel, this.lastSeq(channel));
    // The shard closed the failed opening itself; if the channel was reopened meanwhile, this closes that too,
    // so the shard never keeps a channel the acceptor no longer has.
    if (entry.shard >= 0) this.shards.close(entry.shard, channel);
  }

  /** Channels of one shard, to mark stale when it dies and to reopen when it is back. */
  channelsOf(shard: number): string[] {
    const out: string[] = [];
    for (const [name, entry] of this.channels) if (entry.shard === shard) out.push(name);
    return out;
  }

  /** Stops the timers of channels kept open without subscribers (the gateway is closing). */
  stop(): void {
    for (const entry of this.channels.values()) clearTimeout(entry.linger);
  }

  names(): string[] {
    return [...this.channels.keys()].sort();
  }

  count(): number {
    return this.channels.size;
  }

}
