// The saturation search: raises the load step by step and keeps the last step a target sustained.
/** What a step must show to count as sustained. */
export interface Limits {
  /** Share of the frames due that arrived (1 = all). */
  minDelivered: number;
  /** Latency p99 in ms. */
  maxP99Ms: number;
}

/** The bar: 99 % of the frames delivered, p99 at most 50 ms. */
export const LIMITS: Limits = { minDelivered: 0.99, maxP99Ms: 50 };

/** The two figures a step is judged on; a measurement may carry anything else beside them. */
export interface StepOutcome {
  deliveredRatio: number;
  p99Ms: number;
}

export interface Tried<S, M> {
  step: S;
  result?: M;
  /** Why the step failed: a limit it broke, or the error its measurement threw. */
  failure?: string;
}

export interface Saturation<S, M> {
  /** The highest step sustained; undefined when the first step already failed. */
  best?: { step: S; result: M };
  /** The lowest step that failed (above `best`); undefined when the ladder ran out first. */
  failed?: Tried<S, M>;
  /** Every step measured, in order (the bisection step last). */
  tried: Array<Tried<S, M>>;
}

/** Why a measurement breaks the limits, or undefined when it passes. */
export function failureOf(m: StepOutcome, limits: Limits = LIMITS): string | undefined {
  const why: string[] = [];
  if (!(m.deliveredRatio >= limits.minDelivered)) why.push(`delivered ${m.deliveredRatio.toFixed(3)} < ${limits.minDelivered}`);
  if (!(m.p99Ms <= limits.maxP99Ms)) why.push(`p99 ${m.p99Ms} ms > ${limits.maxP99Ms}`);
  return why.length ? why.join(', ') : undefined;
}

export interface SearchOptions<S> {
  limits?: Limits;
  /**
   * A step between the last sustained one and the first failed one, measured once after the ladder stops; undefined
   * for none. Only for loads that can go down again (an exchange rate, not connected clients).
   */
  between?: (passed: S, failed: S) => S | undefined;
}

/**
 * Measures the steps in order (the load rising) and stops at the first one that fails; a measurement that throws
 * (the target died, clients could not connect) fails its step. Steps are never measured after a failure: past its
 * saturation point a target's queues only grow, and the next step would start from that backlog.
 */
export async function searchSaturation<S, M extends StepOutcome>(
  steps: readonly S[],
  measure: (step: S) => Promise<M>,
  o: SearchOptions<S> = {},
): Promise<Saturation<S, M>> {
  const limits = o.limits ?? LIMITS;
  const tried: Array<Tried<S, M>> = [];
  let best: { step: S; result: M } | undefined;
  let failed: Tried<S, M> | undefined;
  const run = async (step: S): Promise<Tried<S, M>> => {
    try {
      const result = await measure(step);
      const failure = failureOf(result, limits);
      return failure === undefined ? { step, result } : { step, result, failure };
    } catch (err) {
      return { step, failure: `error: ${(err as Error).message}` };
    }
  };
  for (const step of steps) {
    const t = await run(step);
    tried.push(t);
    if (t.failure !== undefined) {
      failed = t;
      break;
    }
    best = { step, result: t.result! };
  }
  const mid = best && failed && o.between ? o.between(best.step, failed.step) : undefined;
  if (mid !== undefined) {
    const t = await run(mid);
    tried.push(t);
    if (t.failure === undefined) best = { step: mid, result: t.result! };
    else failed = t;
  }
  return { ...(best ? { best } : {}), ...(failed ? { failed } : {}), tried };
}
