// Who listens to which channel, and the broadcast: each event is serialised once and sent to its channel's sockets.
import { Injectable } from '@nestjs/common';
import WebSocket from 'ws';
import { BinanceFeedService, type MarketEvent } from './feed.service.js';

const KINDS: Record<string, string> = { price: 'ticker', ticker: 'ticker', trades: 'trade' };

@Injectable()
export class ChannelHub {
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  private readonly byClient = new Map<WebSocket, Set<string>>();
  private readonly seqs = new Map<string, number>();

  constructor(private readonly feed: BinanceFeedService) {
    feed.events$.subscribe((event) => this.broadcast(event));
  }

  get clientCount(): number {
    return this.byClient.size;
  }

  get channels(): string[] {
    return [...this.subscribers.keys()];
  }

  addClient(client: WebSocket): void {
    this.byClient.set(client, new Set());
  }

  removeClient(client: WebSocket): void {
    for (const channel of this.byClient.get(client) ?? []) this.leave(client, channel);
    this.byClient.delete(client);
  }

  /** The upstream stream a channel needs, or undefined when this server does not serve it. */
  streamFor(channel: string): string | undefined {
    const [kind, symbol, extra] = channel.split(':');
    if (!kind || !symbol || extra !== undefined || !KINDS[kind] || !/^[A-Z0-9]{2,20}$/.test(symbol)) return undefined;
    return `${symbol.toLowerCase()}@${KINDS[kind]}`;
  }

  join(client: WebSocket, channel: string): boolean {
    const mine = this.byClient.get(client);
    const stream = this.streamFor(channel);
    if (!mine || !stream) return false;
    if (mine.has(channel)) return true;
    mine.add(channel);
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(client);
    this.feed.watch(stream);
    return true;
  }

  leave(client: WebSocket, channel: string): void {
    const set = this.subscribers.get(channel);
    if (!set?.delete(client)) return;
    this.byClient.get(client)?.delete(channel);
    if (set.size === 0) this.subscribers.delete(channel);
    this.feed.unwatch(this.streamFor(channel)!);
  }

  private broadcast(event: MarketEvent): void {
    const clients = this.subscribers.get(event.channel);
    if (!clients?.size) return;
    const seq = (this.seqs.get(event.channel) ?? 0) + 1;
    this.seqs.set(event.channel, seq);
    const payload = JSON.stringify({ type: event.type, channel: event.channel, seq, data: event.data, timestamp: new Date().toISOString() });
    for (const client of clients) {
      if (client.readyState === WebSocket.OPEN) client.send(payload);
    }
  }
}
