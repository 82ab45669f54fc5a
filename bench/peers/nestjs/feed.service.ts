// The NestJS peer's upstream: one combined-stream connection to the exchange, streams subscribed on demand,
// events normalised into the protocol's data shapes and published on an RxJS subject.
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Subject } from 'rxjs';
import WebSocket from 'ws';

export interface MarketEvent {
  channel: string;
  type: 'price' | 'ticker' | 'trade';
  data: Record<string, unknown>;
}

interface BinanceTicker { e: '24hrTicker'; E: number; s: string; c: string; p: string; P: string; h: string; l: string; v: string; b: string; a: string; o: string; x: string }
interface BinanceTrade { e: 'trade'; E: number; s: string; p: string; q: string; T: number; m: boolean }

export const UPSTREAM_WS = process.env.BINANCE_WS_URL ?? 'wss://stream.binance.com:9443';
export const UPSTREAM_REST = process.env.BINANCE_REST_URL ?? 'https://api.binance.com';

@Injectable()
export class BinanceFeedService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(BinanceFeedService.name);
  readonly events$ = new Subject<MarketEvent>();
  /** Latest ticker per symbol, for the REST endpoint. */
  readonly lastTicker = new Map<string, Record<string, unknown>>();
  private socket?: WebSocket;
  private readonly streams = new Map<string, number>();
  private pending = new Set<string>();
  private flushTimer?: NodeJS.Timeout;
  private requestId = 0;
  private closing = false;

  onModuleInit(): void {
    this.connect();
  }

  onModuleDestroy(): void {
    this.closing = true;
    clearTimeout(this.flushTimer);
    this.socket?.terminate();
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  get activeStreams(): string[] {
    return [...this.streams.keys()];
  }

  /** Reference-counted stream subscription; the exchange is asked in batches (it allows 5 messages a second). */
  watch(stream: string): void {
    const n = this.streams.get(stream) ?? 0;
    this.streams.set(stream, n + 1);
    if (n === 0) {
      this.pending.add(stream);
      this.scheduleFlush();
    }
  }

  unwatch(stream: string): void {
    const n = this.streams.get(stream) ?? 0;
    if (n <= 1) {
      this.streams.delete(stream);
      if (this.pending.delete(stream)) return;
      if (this.connected) this.socket!.send(JSON.stringify({ method: 'UNSUBSCRIBE', params: [stream], id: ++this.requestId }));
    } else this.streams.set(stream, n - 1);
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (!this.connected || this.pending.size === 0) return;
      this.socket!.send(JSON.stringify({ method: 'SUBSCRIBE', params: [...this.pending], id: ++this.requestId }));
      this.pending.clear();
    }, 250);
  }

  private connect(): void {
    const socket = new WebSocket(`${UPSTREAM_WS}/stream`);
    this.socket = socket;
    socket.on('open', () => {
      this.logger.log(`connected to ${UPSTREAM_WS}`);
      this.pending = new Set(this.streams.keys());
      this.scheduleFlush();
    });
    socket.on('message', (raw: Buffer) => this.onMessage(raw));
    socket.on('error', (err) => this.logger.warn(`upstream error: ${err.message}`));
    socket.on('close', () => {
      if (this.closing) return;
      this.logger.warn('upstream closed, reconnecting in 1 s');
      setTimeout(() => this.connect(), 1000);
    });
  }

  private onMessage(raw: Buffer): void {
    const msg = JSON.parse(raw.toString()) as { stream?: string; data?: BinanceTicker | BinanceTrade };
    const d = msg.data;
    if (!d) return;
    if (d.e === '24hrTicker') {
      const price = {
        symbol: d.s, price: Number(d.c), change24h: Number(d.p), changePercent24h: Number(d.P),
        high24h: Number(d.h), low24h: Number(d.l), volume24h: Number(d.v), timestamp: d.E,
      };
      const ticker = {
        symbol: d.s, price: Number(d.c), bid: Number(d.b), ask: Number(d.a), volume: Number(d.v), change: Number(d.p),
        changePercent: Number(d.P), high: Number(d.h), low: Number(d.l), open: Number(d.o), previousClose: Number(d.x),
        timestamp: new Date(d.E).toISOString(),
      };
      this.lastTicker.set(d.s, ticker);
      this.events$.next({ channel: `price:${d.s}`, type: 'price', data: price });
      this.events$.next({ channel: `ticker:${d.s}`, type: 'ticker', data: ticker });
    } else if (d.e === 'trade') {
      this.events$.next({
        channel: `trades:${d.s}`,
        type: 'trade',
        data: { symbol: d.s, price: Number(d.p), quantity: Number(d.q), side: d.m ? 'sell' : 'buy', timestamp: new Date(d.T).toISOString() },
      });
    }
  }
}
