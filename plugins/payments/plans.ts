// The plans and what each allows: which gated channels, how many channels and connections, how many requests.
import type { ClientAllowance } from '../../core/plugin-api.js';
import type { PaymentsConfig, PlanConfig } from './config.js';

/** A channel pattern: kind, and optionally a key and an argument, each `*` for any. */
interface Pattern {
  text: string;
  kind: string;
  key: string;
  /** undefined: any argument, or none. */
  arg: string | undefined;
}

export interface Plan {
  name: string;
  title: string;
  /** Position in config order: a higher rank wins when a user holds two plans. */
  rank: number;
  prices: readonly string[];
  config: PlanConfig;
  /** The allowances as the core asks for them, built once per plan. */
  channelAllowance: ClientAllowance;
  connectionAllowance: ClientAllowance | undefined;
}

/** How a plan appears in GET /api/v1/payments/plans and on the account channel. */
export interface PlanView {
  name: string;
  title: string;
  default: boolean;
  forSale: boolean;
  entitlements: {
    channels: string[];
    maxChannelsPerConnection: number;
    maxConnectionsPerUser: number | null;
    restRequestsPerMinute: number | null;
  };
}

function parsePattern(text: string): Pattern {
  const [kind, key = '*', arg] = text.split(':');
  return { text, kind: kind!, key, arg: arg === '*' ? undefined : arg };
}

function matches(p: Pattern, kind: string, key: string, arg: string | undefined): boolean {
  return p.kind === kind && (p.key === '*' || p.key === key) && (p.arg === undefined || p.arg === arg);
}

export class PlanCatalogue {
  readonly plans: readonly Plan[];
  readonly defaultPlan: Plan;
  private readonly byName = new Map<string, Plan>();
  private readonly byPrice = new Map<string, Plan>();
  /** Every pattern some plan lists, with the plans that list it (lowest rank first). */
  private readonly gates: Array<{ pattern: Pattern; plans: Plan[] }> = [];
  /** Gated kinds, so that a channel of any other kind is decided without looking further. */
  private readonly gatedKinds = new Set<string>();

  constructor(cfg: Pick<PaymentsConfig, 'plans' | 'defaultPlan'>) {
    const entries = Object.entries(cfg.plans);
    const plans: Plan[] = entries.map(([name, c], rank) => ({
      name, title: c.title ?? name, rank, prices: c.prices, config: c,
      channelAllowance: { max: c.maxChannelsPerConnection, message: '' },
      connectionAllowance: undefined,
    }));
    this.plans = plans;
    for (const plan of plans) {
      this.byName.set(plan.name, plan);
      for (const price of plan.prices) this.byPrice.set(price, plan);
    }
    this.defaultPlan = this.byName.get(cfg.defaultPlan)!;
    const gates = new Map<string, { pattern: Pattern; plans: Plan[] }>();
    for (const plan of plans) {
      for (const text of plan.config.channels) {
        let gate = gates.get(text);
        if (!gate) gates.set(text, (gate = { pattern: parsePattern(text), plans: [] }));
        gate.plans.push(plan);
        this.gatedKinds.add(gate.pattern.kind);
      }
    }
    this.gates = [...gates.values()];
    for (const plan of plans) {
      const more = this.higher(plan, (p) => p.config.maxChannelsPerConnection > plan.config.maxChannelsPerConnection);
      plan.channelAllowance.message = `Channel limit of ${plan.config.maxChannelsPerConnection} per connection on the ${plan.name} plan reached: unsubscribe from another channel first${more ? `, or move to the ${more.name} plan (${more.config.maxChannelsPerConnection} per connection)` : ''}`;
      const n = plan.config.maxConnectionsPerUser;
      if (n > 0) {
        const moreConn = this.higher(plan, (p) => p.config.maxConnectionsPerUser === 0 || p.config.maxConnectionsPerUser > n);
        plan.connectionAllowance = {
          max: n,
          message: `The ${plan.name} plan allows ${n} authenticated connection${n === 1 ? '' : 's'} per account at once: close one first${moreConn ? `, or move to the ${moreConn.name} plan` : ''}`,
        };
      }
    }
  }

  /** The lowest-ranked plan above `plan` that `better` accepts. */
  private higher(plan: Plan, better: (p: Plan) => boolean): Plan | undefined {
    return this.plans.find((p) => p.rank > plan.rank && better(p));
  }

  get(name: string): Plan | undefined {
    return this.byName.get(name);
  }

  /** The plan a Stripe Price buys; undefined for a price no plan lists. */
  forPrice(priceId: string): Plan | undefined {
    return this.byPrice.get(priceId);
  }

  /**
   * Whether `plan` may hold the channel: undefined, or the plans that may (lowest rank first). A channel no plan lists
   * is open to all.
   */
  refuses(plan: Plan, kind: string, key: string, arg: string | undefined): Plan[] | undefined {
    if (!this.gatedKinds.has(kind)) return undefined;
    let needed: Plan[] | undefined;
    for (const gate of this.gates) {
      if (!matches(gate.pattern, kind, key, arg)) continue;
      if (gate.plans.includes(plan)) return undefined;
      needed ??= gate.plans;
    }
    return needed;
  }

  view(plan: Plan): PlanView {
    const c = plan.config;
    return {
      name: plan.name,
      title: plan.title,
      default: plan === this.defaultPlan,
      forSale: plan.prices.length > 0,
      entitlements: {
        channels: [...c.channels],
        maxChannelsPerConnection: c.maxChannelsPerConnection,
        maxConnectionsPerUser: c.maxConnectionsPerUser === 0 ? null : c.maxConnectionsPerUser,
        restRequestsPerMinute: c.restRequestsPerMinute === 0 ? null : c.restRequestsPerMinute,
      },
    };
  }
}
