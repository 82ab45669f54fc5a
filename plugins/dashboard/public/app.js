// The dashboard page: candles, book, trades and signal of one symbol over the client SDK; server stats over REST.
import { TickgateClient } from './sdk/index.js';
import { createChart, CandlestickSeries } from './vendor/lightweight-charts.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { symbol: params.get('symbol') || 'BTCUSDT', interval: params.get('interval') || '1m', subs: [], lastBar: 0, bars: new Set(), trades: 0 };
const BOOK_ROWS = 12;
const TAPE_ROWS = 40;

const client = new TickgateClient({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` });
client.on('state', (s) => {
  $('state').textContent = s;
  $('state').dataset.state = s;
});
client.on('error', (e) => console.warn('tickgate:', e.code, e.message));

const chart = createChart($('chart'), {
  autoSize: true,
  layout: { background: { color: '#161a21' }, textColor: '#d6dae0' },
  grid: { vertLines: { color: '#1f242d' }, horzLines: { color: '#1f242d' } },
  timeScale: { timeVisible: true, secondsVisible: false },
});
const candles = chart.addSeries(CandlestickSeries, { upColor: '#26a69a', downColor: '#ef5350', borderVisible: false, wickUpColor: '#26a69a', wickDownColor: '#ef5350' });

const fmt = (n, digits) => (digits === undefined ? String(n) : Number(n).toFixed(digits));

function bar(k) {
  return { time: k.time / 1000, open: k.open, high: k.high, low: k.low, close: k.close };
}

/** A candle from the stream: the open one is updated in place, a new one appended; one older than the last is skipped. */
function addCandle(k) {
  const b = bar(k);
  if (b.time < state.lastBar) return;
  candles.update(b);
  state.lastBar = b.time;
  state.bars.add(b.time);
  $('chart').dataset.candles = String(state.bars.size);
  $('last').textContent = fmt(k.close);
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.appendChild(td);
}

function renderBook(d) {
  const asks = d.asks.slice(0, BOOK_ROWS).reverse();
  const bids = d.bids.slice(0, BOOK_ROWS);
  for (const [id, levels] of [['asks', asks], ['bids', bids]]) {
    const body = $(id);
    body.replaceChildren(...levels.map(([price, qty]) => {
      const tr = document.createElement('tr');
      cell(tr, fmt(price));
      cell(tr, fmt(qty));
      return tr;
    }));
  }
  const bestAsk = d.asks[0]?.[0];
  const bestBid = d.bids[0]?.[0];
  $('spread-cell').textContent = bestAsk !== undefined && bestBid !== undefined ? `spread ${fmt(bestAsk - bestBid, 8).replace(/\.?0+$/, '')}` : '–';
  $('book').dataset.levels = String(asks.length + bids.length);
}

function addTrade(t) {
  const tr = document.createElement('tr');
  tr.className = t.side;
  cell(tr, new Date(t.timestamp).toLocaleTimeString());
  cell(tr, fmt(t.price));
  cell(tr, fmt(t.quantity));
  const body = $('trades');
  body.prepend(tr);
  while (body.rows.length > TAPE_ROWS) body.deleteRow(-1);
  state.trades++;
  $('tape').dataset.trades = String(state.trades);
}

function showSignal(s) {
  $('signal').hidden = false;
  const action = $('signal-action');
  action.textContent = s.action;
  action.className = s.action;
  $('signal-detail').textContent = `${Math.round(s.confidence * 100)} % · ${s.model} · candle ${new Date(s.candleTime).toLocaleTimeString()}`;
}

async function loadHistory(symbol, interval) {
  const res = await fetch(`/api/v1/market/klines/${symbol}?interval=${interval}&limit=300`);
  const body = await res.json();
  if (!body.success) throw new Error(`${body.error.code}: ${body.error.message}`);
  return body.data;
}

/** Shows a symbol: the history from REST, then the live candles over it (those that came meanwhile are kept). */
async function show(symbol, interval) {
  for (const sub of state.subs) sub.unsubscribe();
  Object.assign(state, { symbol, interval, subs: [], lastBar: 0, bars: new Set(), trades: 0 });
  candles.setData([]);
  $('trades').replaceChildren();
  $('signal').hidden = true;
  const early = [];
  let loaded = false;
  state.subs.push(
    client.subscribe(`klines:${symbol}:${interval}`, (k) => (loaded ? addCandle(k) : early.push(k))),
    client.subscribe(`depth:${symbol}:20`, renderBook),
    client.subscribe(`trades:${symbol}`, addTrade),
    // Only where the signals plugin runs (and serves this interval): an error just leaves the panel hidden.
    client.subscribe(`signals:${symbol}`, { data: showSignal, error: () => ($('signal').hidden = true) }),
  );
  try {
    const past = await loadHistory(symbol, interval);
    if (state.symbol !== symbol || state.interval !== interval) return;
    candles.setData(past.map(bar));
    for (const k of past) state.bars.add(k.time / 1000);
    state.lastBar = past.length ? past[past.length - 1].time / 1000 : 0;
    $('chart').dataset.candles = String(state.bars.size);
  } catch (err) {
    console.warn('history:', err.message);
  }
  loaded = true;
  for (const k of early) addCandle(k);
  const url = new URL(location.href);
  url.searchParams.set('symbol', symbol);
  url.searchParams.set('interval', interval);
  history.replaceState(null, '', url);
}

let sent = { at: 0, frames: 0 };
/** The server's stats every 2 s: /health, and frames/s from /metrics' counters when metrics are on. */
async function refreshStats() {
  try {
    const health = await (await fetch('/health')).json();
    $('stat-status').textContent = health.status;
    $('stat-connections').textContent = String(health.clients);
    $('stat-channels').textContent = String(health.channels);
    $('stat-upstream').textContent = `${health.upstream.liveConnections}/${health.upstream.connections} live · ${health.upstream.streams} streams`;
    $('stat-version').textContent = health.version;
  } catch {
    $('stat-status').textContent = 'unreachable';
  }
  try {
    const res = await fetch('/metrics');
    if (!res.ok) throw new Error(String(res.status));
    const text = await res.text();
    let frames = 0;
    for (const m of text.matchAll(/^tickgate_frames_sent_total\{[^}]*\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)) frames += Number(m[1]);
    const now = Date.now();
    if (sent.at && frames >= sent.frames) $('stat-fps').textContent = String(Math.round(((frames - sent.frames) * 1000) / (now - sent.at)));
    sent = { at: now, frames };
  } catch {
    $('stat-fps').textContent = '– (metrics off)';
  }
}

async function loadSymbols() {
  const select = $('symbol');
  try {
    const body = await (await fetch('/api/v1/market/symbols')).json();
    const names = body.success ? [...body.data].sort() : [];
    if (!names.includes(state.symbol)) names.unshift(state.symbol);
    select.replaceChildren(...names.map((n) => new Option(n, n, false, n === state.symbol)));
  } catch {
    select.replaceChildren(new Option(state.symbol, state.symbol, true, true));
  }
}

$('interval').value = state.interval;
$('symbol').addEventListener('change', (e) => void show(e.target.value, state.interval));
$('interval').addEventListener('change', (e) => void show(state.symbol, e.target.value));
await loadSymbols();
await show(state.symbol, state.interval);
await refreshStats();
setInterval(refreshStats, 2000);
