// HTTP routes equivalent to tickgate's: health, the stats endpoint in the guide's shape, and a ticker lookup.
import { Controller, Get, HttpException, HttpStatus, NotFoundException, Param } from '@nestjs/common';
import { ChannelHub } from './channel-hub.service.js';
import { BinanceFeedService, UPSTREAM_REST } from './feed.service.js';

@Controller()
export class StatusController {
  /** REST fallback for symbols nobody streams, cached for a second. */
  private readonly restCache = new Map<string, { at: number; body: Record<string, unknown> }>();

  constructor(private readonly hub: ChannelHub, private readonly feed: BinanceFeedService) {}

  @Get('health')
  health(): Record<string, unknown> {
    if (!this.feed.connected) throw new HttpException({ status: 'down', reason: 'upstream not connected' }, HttpStatus.SERVICE_UNAVAILABLE);
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()), clients: this.hub.clientCount };
  }

  @Get('api/v1/ws/stats')
  stats(): Record<string, unknown> {
    const channels = this.hub.channels;
    const streams = this.feed.activeStreams;
    return {
      success: true,
      data: {
        connectedClients: this.hub.clientCount,
        activeChannels: channels,
        quoteStreams: 0,
        signalStreams: 0,
        binanceStreams: streams.length,
        binanceActiveStreams: streams,
        priceCache: this.feed.lastTicker.size,
      },
    };
  }

  @Get('api/v1/market/ticker/:symbol')
  async ticker(@Param('symbol') symbol: string): Promise<Record<string, unknown>> {
    const live = this.feed.lastTicker.get(symbol.toUpperCase());
    if (live) return { success: true, data: live };
    const cached = this.restCache.get(symbol);
    if (cached && Date.now() - cached.at < 1000) return cached.body;
    const res = await fetch(`${UPSTREAM_REST}/api/v3/ticker/24hr?symbol=${encodeURIComponent(symbol.toUpperCase())}`);
    if (res.status === 400) throw new NotFoundException(`unknown symbol ${symbol}`);
    if (!res.ok) throw new HttpException('exchange unavailable', HttpStatus.BAD_GATEWAY);
    const t = (await res.json()) as Record<string, string>;
    const body = {
      success: true,
      data: {
        symbol: t.symbol, price: Number(t.lastPrice), bid: Number(t.bidPrice), ask: Number(t.askPrice), volume: Number(t.volume),
        change: Number(t.priceChange), changePercent: Number(t.priceChangePercent), high: Number(t.highPrice), low: Number(t.lowPrice),
        open: Number(t.openPrice), previousClose: Number(t.prevClosePrice), timestamp: new Date(Number(t.closeTime)).toISOString(),
      },
    };
    this.restCache.set(symbol, { at: Date.now(), body });
    return body;
  }
}
