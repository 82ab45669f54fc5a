// Held-out evaluation: accuracy, log-loss and a long/flat backtest net of fees, for the model and naive baselines.

export interface Scores {
  accuracy: number;
  logLoss: number;
  backtest: Backtest;
}

export interface Backtest {
  /** Compounded return of the strategy over the period, net of fees (0.05 = +5 %). */
  totalReturn: number;
  /** Position changes (entries plus exits). */
  trades: number;
  /** Share of candles held long. */
  exposure: number;
  feePerTrade: number;
}

/** Rows × 3 probabilities (down, flat, up) → predicted classes. */
export function argmax3(p: ArrayLike<number>, rows: number): Uint8Array {
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 1;
    if (p[r * 3 + 2]! > p[r * 3 + best]!) best = 2;
    if (p[r * 3]! > p[r * 3 + best]!) best = 0;
    out[r] = best;
  }
  return out;
}

export function accuracy(pred: Uint8Array, y: Uint8Array): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (pred[i] === y[i]) ok++;
  return y.length ? ok / y.length : 0;
}

export function logLoss(p: ArrayLike<number>, y: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum -= Math.log(Math.max(1e-15, p[i * 3 + y[i]!]!));
  return y.length ? sum / y.length : 0;
}

/**
 * Long/flat: long over the next candle when `long[i]`, flat otherwise; each change of position pays `fee` (a share of
 * the notional, e.g. 0.001 for Binance's 0.1 % taker fee). Starts and ends flat.
 */
export function backtest(long: ArrayLike<boolean>, nextReturn: Float64Array, fee: number): Backtest {
  let logWealth = 0;
  let held = false;
  let trades = 0;
  let exposure = 0;
  const feeLog = Math.log(1 - fee);
  for (let i = 0; i < nextReturn.length; i++) {
    const want = long[i]!;
    if (want !== held) {
      logWealth += feeLog;
      trades++;
      held = want;
    }
    if (held) {
      logWealth += nextReturn[i]!;
      exposure++;
    }
  }
  if (held) {
    logWealth += feeLog;
    trades++;
  }
  return { totalReturn: Math.expm1(logWealth), trades, exposure: nextReturn.length ? exposure / nextReturn.length : 0, feePerTrade: fee };
}

/** Class frequencies of `y` (3 classes), smoothed so that none is 0. */
export function frequencies(y: Uint8Array, which?: (i: number) => boolean): [number, number, number] {
  const n = [1, 1, 1];
  for (let i = 0; i < y.length; i++) if (!which || which(i)) n[y[i]!]!++;
  const total = n[0]! + n[1]! + n[2]!;
  return [n[0]! / total, n[1]! / total, n[2]! / total];
}

function repeatRows(rows: number, probsOf: (i: number) => readonly number[]): Float64Array {
  const p = new Float64Array(rows * 3);
  for (let i = 0; i < rows; i++) p.set(probsOf(i), i * 3);
  return p;
}

export interface BaselineInputs {
  yTrain: Uint8Array;
  lastReturnTrain: Float64Array;
  yTest: Uint8Array;
  lastReturnTest: Float64Array;
  nextReturnTest: Float64Array;
  fee: number;
}

/**
 * The naive baselines on the test period. Their probabilities come from the training period: always-hold predicts
 * flat with the training class frequencies; last-return-sign predicts the sign of the last candle and takes the
 * training frequencies that followed each sign. Buy-and-hold is the backtest of staying long.
 */
export function baselines(b: BaselineInputs): { alwaysHold: Scores; lastReturnSign: Scores; buyAndHold: Backtest } {
  const n = b.yTest.length;
  const prior = frequencies(b.yTrain);
  const hold = repeatRows(n, () => prior);
  const sign = (r: number) => (r > 0 ? 2 : r < 0 ? 0 : 1);
  const bySign = [0, 1, 2].map((s) => frequencies(b.yTrain, (i) => sign(b.lastReturnTrain[i]!) === s));
  const lastSign = repeatRows(n, (i) => bySign[sign(b.lastReturnTest[i]!)]!);
  const predSign = Uint8Array.from(b.lastReturnTest, sign);
  return {
    alwaysHold: {
      accuracy: accuracy(new Uint8Array(n).fill(1), b.yTest),
      logLoss: logLoss(hold, b.yTest),
      backtest: backtest(new Array<boolean>(n).fill(false), b.nextReturnTest, b.fee),
    },
    lastReturnSign: {
      accuracy: accuracy(predSign, b.yTest),
      logLoss: logLoss(lastSign, b.yTest),
      backtest: backtest(Array.from(predSign, (s) => s === 2), b.nextReturnTest, b.fee),
    },
    buyAndHold: backtest(new Array<boolean>(n).fill(true), b.nextReturnTest, b.fee),
  };
}
