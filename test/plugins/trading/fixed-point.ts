// Exact expectations for the fill-engine tests: every amount as a BigInt count of 1e-18, independent of decimal.js.
import type { Dec } from '../../../plugins/trading/ledger.js';

export const SCALE = 18;
export const ONE = 10n ** 18n;

/** An exact decimal (string or a Decimal's plain toFixed()) as an integer of 1e-18 units. */
export function fx(v: string | Dec): bigint {
  const s = typeof v === 'string' ? v : v.toFixed();
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`not a plain decimal: ${s}`);
  const frac = m[3] ?? '';
  if (frac.length > SCALE) throw new Error(`more than ${SCALE} decimals: ${s}`);
  const n = BigInt(m[2]! + frac.padEnd(SCALE, '0'));
  return m[1] ? -n : n;
}

/** Back to a canonical decimal string (no trailing zeros), for messages and string comparisons. */
export function str(x: bigint): string {
  const neg = x < 0n;
  const a = neg ? -x : x;
  const int = a / ONE;
  const frac = (a % ONE).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${frac ? '.' + frac : ''}`;
}

/** a × b, which must be exact at 18 decimals. */
export function mul(a: bigint, b: bigint): bigint {
  const p = a * b;
  if (p % ONE !== 0n) throw new Error('product not exact at 18 decimals');
  return p / ONE;
}

/** notional × rate rounded UP to 8 decimals (amounts are ≥ 0). */
export function feeUp(notional: bigint, rate: bigint): bigint {
  const p = notional * rate; // scale 1e36
  const unit = 10n ** 28n; // 1e-8 at scale 1e36
  return ((p + unit - 1n) / unit) * 10n ** 10n;
}

/** notional × rate truncated to 8 decimals: what a fee rounded down would be. */
export function feeDown(notional: bigint, rate: bigint): bigint {
  return ((notional * rate) / 10n ** 28n) * 10n ** 10n;
}

// ---- fixtures ----
