// `node dist/client/examples/run-dashboard.js [ws://host:3000/ws]`: the guide's usage lines, on the SDK, in Node 20.
import WebSocket from 'ws';
import { TradingDashboard } from './trading-dashboard.js';

const dashboard = new TradingDashboard({ url: process.argv[2] ?? 'ws://localhost:3000/ws', WebSocket });
dashboard.subscribe('price:BTCUSDT');
dashboard.subscribe('klines:ETHUSDT:1m');
dashboard.subscribe('trades:SOLUSDT');
process.once('SIGINT', () => dashboard.disconnect());
