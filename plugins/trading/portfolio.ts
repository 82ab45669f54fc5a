// Portfolios marked to live prices: balances, positions, unrealised P&L and equity; the throttled portfolio: channel.
import type { AcceptorApi } from '../../core/plugin-api.js';
import { D, type Dec } from './ledger.js';
import type { TradingStore } from './trading-store.js';
import type { TradingConfig } from './config.js';

export interface PortfolioView {
  balances: Record<string, { free: string; locked: string }>;
  positions: Array<{ symbol: string; quantity: string; averagePrice: string; markPrice: string | null; unrealizedPnl: string | null; realizedPnl: string }>;
  /** Every balance valued in `valuationAsset` at live prices. */
  equity: string;
  valuationAsset: string;
  /** Assets held that have no live price in the valuation asset: not counted in equity. */
  unvalued: string[];
  time: string;
}

const MARK_TTL_MS = 1000;

export class Portfolios {
  private readonly marks = new Map<string, { price: Dec | null; at: number; pending: Promise<Dec | null> | undefined }>();
  /** Users with a portfolio: channel open, and when their last frame went out. */
  private readonly watched = new Map<string, { lastSent: number; last: string }>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Users whose account is known to exist: a portfolio read each second need not ask again. */
  private readonly ensured = new Set<string>();

  constructor(private readonly api: AcceptorApi<TradingConfig>, private readonly store: TradingStore, private readonly publish: (channel: string, type: string, data: unknown) => void) {}

  /** The symbol's last price, at most a second old; null when the shard has none (no trades yet, a symbol not served). */
  private async mark(symbol: string): Promise<Dec | null> {
    if (!this.api.symbols.serves(symbol)) return null;
    const now = Date.now();
    let m = this.marks.get(symbol);
    if (m && now - m.at < MARK_TTL_MS) return m.price;
    if (m?.pending) return m.pending;
    const pending = this.api.ask<string | null>(symbol, 'mark').then(
      (p) => (p === null ? null : new D(p)),
      () => m?.price ?? null,
    );
    m = { price: m?.price ?? null, at: m?.at ?? 0, pending };
    this.marks.set(symbol, m);
    const price = await pending;
    this.marks.set(symbol, { price, at: Date.now(), pending: undefined });
    return price;
  }

  async view(userId: string): Promise<PortfolioView> {
    if (!this.ensured.has(userId)) {
      await this.store.transaction(() => this.store.ensureAccount(userId));
      this.ensured.add(userId);
    }
    const [balances, positions] = await Promise.all([this.store.balances(userId), this.store.positions(userId)]);
    const val = this.api.config.valuationAsset;
    const symbols = new Set<string>();
    for (const [symbol, p] of positions) if (p.quantity.gt(0)) symbols.add(symbol);
    for (const [asset, b] of balances) if (asset !== val && b.free.add(b.locked).gt(0)) symbols.add(`${asset}${val}`);
    const marks = new Map<string, Dec | null>();
    await Promise.all([...symbols].map(async (s) => marks.set(s, await this.mark(s))));
    let equity = new D(0);
    const unvalued: string[] = [];
    const out: PortfolioView['balances'] = {};
    for (const [asset, b] of balances) {
      const total = b.free.add(b.locked);
      if (total.isZero()) continue;
      out[asset] = { free: b.free.toFixed(), locked: b.locked.toFixed() };
      if (asset === val) equity = equity.add(total);
      else {
        const price = marks.get(`${asset}${val}`);
        if (price) equity = equity.add(total.mul(price));
        else unvalued.push(asset);
      }
    }
    const pos: PortfolioView['positions'] = [];
    for (const [symbol, p] of positions) {
      if (p.quantity.isZero() && p.realizedPnl.isZero()) continue;
      const mark = marks.get(symbol) ?? null;
      pos.push({
        symbol, quantity: p.quantity.toFixed(), averagePrice: p.averagePrice.toFixed(),
        markPrice: mark?.toFixed() ?? null,
        unrealizedPnl: mark && p.quantity.gt(0) ? mark.sub(p.averagePrice).mul(p.quantity).toDecimalPlaces(8).toFixed() : p.quantity.isZero() ? '0' : null,
        realizedPnl: p.realizedPnl.toDecimalPlaces(8).toFixed(),
      });
    }
    return { balances: out, positions: pos, equity: equity.toDecimalPlaces(8).toFixed(), valuationAsset: val, unvalued, time: new Date().toISOString() };
  }

  /** The user's balances changed: a frame goes out now, or when the interval since the last one has passed. */
  touch(userId: string): void {
    if (this.watched.has(userId)) void this.tick();
  }

  opened(userId: string): void {
    if (!this.watched.has(userId)) this.watched.set(userId, { lastSent: 0, last: '' });
    this.start();
    void this.tick();
  }

  closed(userId: string): void {
    this.watched.delete(userId);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.api.config.portfolioIntervalMs);
    this.timer.unref();
  }

  /**
   * Sends each watched user's portfolio when it changed (balances or marks) and their last frame is at least an
   * interval old: recomputed every interval (marks move), sent only when its content differs from the last frame.
   */
  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = Date.now();
      const interval = this.api.config.portfolioIntervalMs;
      for (const [userId, w] of [...this.watched]) {
        if (now - w.lastSent < interval) continue;
        let view: PortfolioView;
        try {
          view = await this.view(userId);
        } catch (err) {
          this.api.log.warn({ err: (err as Error).message, userId }, 'portfolio not computed: retrying next tick');
          continue;
        }
        const { time: _time, ...content } = view;
        const key = JSON.stringify(content);
        const current = this.watched.get(userId);
        if (!current || key === current.last) continue;
        current.last = key;
        current.lastSent = Date.now();
        this.publish(`portfolio:${userId}`, 'portfolio', view);
      }
    } finally {
      this.running = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }
}
