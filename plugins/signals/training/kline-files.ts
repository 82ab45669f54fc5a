// Klines in Binance's own layouts: REST /api/v3/klines rows (JSON) and the CSV files of Binance's public kline archives.
import { readFileSync } from 'node:fs';
import type { FeatureCandle } from '../features.js';

export interface Kline extends FeatureCandle {
  closeTime: number;
}

/**
 * Binance's archives give times in milliseconds for data before 2025 and in microseconds since: a time this large
 * (year 5138 in ms) can only be microseconds.
 */
const MICROSECONDS_ABOVE = 1e14;

function toMs(t: number): number {
  return t >= MICROSECONDS_ABOVE ? Math.floor(t / 1000) : t;
}

function row(fields: readonly unknown[], where: string): Kline {
  if (fields.length < 7) throw new Error(`${where}: a kline row has at least 7 fields (open time, open, high, low, close, volume, close time); this one has ${fields.length}`);
  const num = (i: number, name: string) => {
    const v = Number(fields[i]);
    if (fields[i] === '' || fields[i] === null || !Number.isFinite(v)) throw new Error(`${where}: ${name} is not a number: ${JSON.stringify(fields[i])}`);
    return v;
  };
  return {
    openTime: toMs(num(0, 'open time')),
    open: num(1, 'open'),
    high: num(2, 'high'),
    low: num(3, 'low'),
    close: num(4, 'close'),
    volume: num(5, 'volume'),
    closeTime: toMs(num(6, 'close time')),
  };
}

/** Rows of GET /api/v3/klines: [openTime, "open", "high", "low", "close", "volume", closeTime, …]. */
export function parseRestKlines(json: string, source = 'input'): Kline[] {
  let rows: unknown;
  try {
    rows = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(rows)) throw new Error(`${source}: expected a JSON array of kline rows, as GET /api/v3/klines returns`);
  return rows.map((r, i) => {
    if (!Array.isArray(r)) throw new Error(`${source}: row ${i + 1} is not an array`);
    return row(r, `${source} row ${i + 1}`);
  });
}

/** A kline archive CSV (BTCUSDT-1m-2024-01.csv): the same 12 columns, no quotes; a header line is skipped. */
export function parseKlineCsv(text: string, source = 'input'): Kline[] {
  const out: Kline[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const fields = line.split(',');
    if (i === 0 && !/^\d/.test(fields[0]!)) continue;
    out.push(row(fields, `${source} line ${i + 1}`));
  }
  return out;
}

/** Reads files of either layout (by content: JSON starts with "["), merged in time order, duplicates dropped. */
export function readKlineFiles(paths: readonly string[]): Kline[] {
  const all: Kline[] = [];
  for (const p of paths) {
    const text = readFileSync(p, 'utf8');
    // A loop, not push(...rows): a month of 1s candles is millions of rows, more than a call's arguments.
    for (const k of text.trimStart().startsWith('[') ? parseRestKlines(text, p) : parseKlineCsv(text, p)) all.push(k);
  }
  all.sort((a, b) => a.openTime - b.openTime);
  return all.filter((k, i) => i === 0 || k.openTime !== all[i - 1]!.openTime);
}
