// Kline intervals of the tickgate protocol, in the order its messages list them: the guide's 14, then 1s and 8h.
import type { KlineInterval } from '../../shards/shard-api.js';

export const PROTOCOL_INTERVALS = ['1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d', '3d', '1w', '1M'] as const satisfies readonly KlineInterval[];
export const EXTRA_INTERVALS = ['1s', '8h'] as const satisfies readonly KlineInterval[];
export const KLINE_INTERVALS: readonly string[] = [...PROTOCOL_INTERVALS, ...EXTRA_INTERVALS];
