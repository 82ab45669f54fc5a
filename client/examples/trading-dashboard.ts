// The protocol guide's TradingDashboard, on the SDK: the reconnect loop, resubscribe and heartbeat are the SDK's now.
import { TickgateClient, type TickgateClientOptions, type KlineData, type PriceData, type TickerData, type TradeData } from '../index.js';

export class TradingDashboard {
  private readonly client: TickgateClient;
  private readonly subscriptions = new Map<string, { unsubscribe(): void }>();

  constructor(options: TickgateClientOptions = { url: 'ws://localhost:3000/ws' }) {
    this.client = new TickgateClient(options);
    this.client.on('connected', (data) => console.log('Connected to trading server', data.clientId));
    this.client.on('disconnected', (code) => console.log(`Disconnected from server (${code}): reconnecting`));
    this.client.on('recovery', (channel, r) => console.log(r.recovered ? `${channel}: ${r.missed} missed updates recovered` : `${channel}: starting over from the latest value (${r.reason})`));
    this.client.on('error', (error) => console.error('Server error:', error));
  }

  subscribe(channel: string): void {
    if (this.subscriptions.has(channel)) return;
    const kind = channel.slice(0, channel.indexOf(':'));
    const sub = this.client.subscribe(channel, {
      data: (data) => {
        if (kind === 'price') this.updatePrice(data as PriceData);
        else if (kind === 'klines') this.updateChart(data as KlineData);
        else if (kind === 'ticker') this.updateTicker(data as TickerData);
        else if (kind === 'trades') this.addTrade(data as TradeData);
      },
      status: (state) => console.log(`${channel} is ${state}`),
      error: (error) => {
        console.error(`${channel}: ${error.code} ${error.message}`);
        this.subscriptions.delete(channel);
      },
    });
    this.subscriptions.set(channel, sub);
  }

  unsubscribe(channel: string): void {
    this.subscriptions.get(channel)?.unsubscribe();
    this.subscriptions.delete(channel);
  }

  updatePrice(data: PriceData): void {
    console.log(`Price update: ${data.symbol} = $${data.price}`);
  }

  updateChart(data: KlineData): void {
    console.log(`Kline update: ${data.symbol} ${data.interval}`);
  }

  updateTicker(data: TickerData): void {
    console.log(`Ticker update: ${data.symbol}`);
  }

  addTrade(data: TradeData): void {
    console.log(`New trade: ${data.symbol} ${data.side} ${data.quantity} @ ${data.price}`);
  }

  disconnect(): void {
    this.client.close();
  }
}
