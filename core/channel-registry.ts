// Channel families registered by plugins, and the validation of a channel name for one client.
import type { ChannelSpec } from './plugin-api.js';
import { CONFLATION_RATES, parseChannelName, isValidKind, type ChannelName } from './channel-grammar.js';
import { errorData, type ErrorData, type ErrorRegistry } from './errors.js';
import type { SymbolRegistry } from './symbol-registry.js';

export interface ChannelKind {
  kind: string;
  plugin: string;
  spec: ChannelSpec;
}

export type Validation =
  | { ok: true; channel: ChannelName; family: ChannelKind }
  | { ok: false; error: ErrorData };

export class ChannelRegistry {
  private readonly kinds = new Map<string, ChannelKind>();

  constructor(private readonly errors: ErrorRegistry) {}

  register(plugin: string, kind: string, spec: ChannelSpec): void {
    if (!isValidKind(kind)) throw new Error(`plugin "${plugin}": channel kind "${kind}" must match /^[a-z][a-zA-Z0-9_-]{0,31}$/`);
    const existing = this.kinds.get(kind);
    if (existing) throw new Error(`plugin "${plugin}": channel kind "${kind}" is already registered by plugin "${existing.plugin}"`);
    if (spec.key !== 'symbol' && spec.key !== 'user') throw new Error(`plugin "${plugin}": channel kind "${kind}" needs key 'symbol' or 'user'`);
    if (spec.raw && spec.key !== 'symbol') throw new Error(`plugin "${plugin}": channel kind "${kind}" is raw, which needs key 'symbol' (raw frames come from the shards)`);
    if (spec.args?.some((a) => a.includes('@') || a.includes(':'))) throw new Error(`plugin "${plugin}": channel kind "${kind}": an argument may not contain ':' or '@' (':' separates the parts of a name, '@' marks a rate)`);
    if (spec.conflate && (spec.key !== 'symbol' || spec.raw)) throw new Error(`plugin "${plugin}": channel kind "${kind}" can be conflated, which needs key 'symbol' and not raw (the shards conflate)`);
    if (spec.argErrorCode !== undefined && !this.errors.get(spec.argErrorCode)) {
      throw new Error(`plugin "${plugin}": channel kind "${kind}": argErrorCode ${spec.argErrorCode} is not a registered error code (declare it with defineErrors)`);
    }
    this.kinds.set(kind, { kind, plugin, spec });
  }

  get(kind: string): ChannelKind | undefined {
    return this.kinds.get(kind);
  }

  list(): ChannelKind[] {
    return [...this.kinds.values()];
  }

  /**
   * Checks grammar, kind, key and argument; access rules are checked by the caller, who knows the client. `raw`: the
   * name is for `watchRaw`, the only way to hold a channel of a raw kind (for anyone else such a kind does not exist).
   */
  validate(name: string, symbols: SymbolRegistry, opts: { raw?: boolean } = {}): Validation {
    const parsed = parseChannelName(name);
    if (!parsed) return fail('TG_ERR_INVALID_CHANNEL', `Invalid channel name "${clip(name)}": use kind:SYMBOL or kind:SYMBOL:ARG, e.g. price:BTCUSDT or klines:BTCUSDT:1m (and @RATE for at most one frame per interval, e.g. price:BTCUSDT@1s)`);
    const family = this.kinds.get(parsed.kind);
    if (!family || (family.spec.raw ?? false) !== (opts.raw ?? false)) {
      if (opts.raw && family) return fail('TG_ERR_UNKNOWN_CHANNEL_KIND', `Channel kind "${parsed.kind}" is not raw: hold it with watch()`);
      const known = [...this.kinds.values()].filter((k) => (k.spec.raw ?? false) === (opts.raw ?? false)).map((k) => k.kind).sort().join(', ');
      return fail('TG_ERR_UNKNOWN_CHANNEL_KIND', `Unknown channel kind "${parsed.kind}": available kinds are ${known}`);
    }
    const { spec } = family;
    if (spec.key === 'symbol') {
      const refused = this.symbolError(() => symbols.validate(parsed.key));
      if (refused) return refused;
    }
    const argName = spec.argName ?? 'argument';
    if (parsed.arg === undefined) {
      if (spec.args && (spec.argRequired ?? true)) {
        return fail('TG_ERR_INVALID_ARGUMENT', `Channel "${parsed.kind}" needs a ${argName}: ${parsed.kind}:${parsed.key}:<${argName}> with ${argName} one of ${spec.args.join(', ')}`);
      }
    } else if (!spec.args) {
      return fail('TG_ERR_INVALID_ARGUMENT', `Channel "${parsed.kind}" takes no third part: use ${parsed.kind}:${parsed.key}`);
    } else if (!spec.args.includes(parsed.arg)) {
      return { ok: false, error: this.errors.data(spec.argErrorCode ?? 'TG_ERR_INVALID_ARGUMENT', `Invalid ${argName} "${clip(parsed.arg)}" for ${parsed.kind}: use one of ${spec.args.join(', ')}`) };
    }
    if (parsed.rate !== undefined) {
      if (!spec.conflate) {
        const can = [...this.kinds.values()].filter((k) => k.spec.conflate).map((k) => k.kind).sort().join(', ');
        return fail('TG_ERR_INVALID_RATE', `Channel "${parsed.kind}" cannot be conflated (@${clip(parsed.rate)}): each of its frames counts, so subscribe to ${parsed.name.slice(0, parsed.name.indexOf('@'))}; kinds that can: ${can || 'none on this server'}`);
      }
      if (!Number.isFinite(parsed.rateMs)) {
        return fail('TG_ERR_INVALID_RATE', `Invalid rate "@${clip(parsed.rate)}": use one of ${Object.keys(CONFLATION_RATES).map((r) => `@${r}`).join(', ')}`);
      }
    }
    if (spec.key === 'symbol') {
      // Last, so that a name refused for another reason never counts against the active-symbol cap.
      const refused = this.symbolError(() => symbols.reserve(parsed.key));
      if (refused) return refused;
    }
    return { ok: true, channel: parsed, family };
  }

  private symbolError(check: () => unknown): Validation | undefined {
    try {
      check();
      return undefined;
    } catch (err) {
      const e = this.errors.toClientError(err);
      if (!e) throw err;
      return { ok: false, error: e.hint === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, hint: e.hint } };
    }
  }
}

function fail(code: Parameters<typeof errorData>[0], message?: string): Validation {
  return { ok: false, error: errorData(code, message) };
}

/** Echoed client input is clipped so an error frame never grows with what the client sent. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
