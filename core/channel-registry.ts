// Channel families registered by plugins, and the validation of a channel name for one client.
import type { ChannelSpec } from './plugin-api.js';
import { parseChannelName, isValidKind, SYMBOL_RE, type ChannelName } from './channel-grammar.js';
import { errorData, type ErrorData } from './errors.js';
import type { SymbolRegistry } from './symbol-registry.js';

export interface ChannelKind {
  kind: string;
  plugin: string;
  spec: ChannelSpec;
}

export type Validation =
  | { ok: true; channel: ChannelName; family: ChannelKind }
  | { ok: false; error: ErrorData & { hint?: string } };

export class ChannelRegistry {
  private readonly kinds = new Map<string, ChannelKind>();

  register(plugin: string, kind: string, spec: ChannelSpec): void {
    if (!isValidKind(kind)) throw new Error(`plugin "${plugin}": channel kind "${kind}" must match /^[a-z][a-zA-Z0-9_-]{0,31}$/`);
    const existing = this.kinds.get(kind);
    if (existing) throw new Error(`plugin "${plugin}": channel kind "${kind}" is already registered by plugin "${existing.plugin}"`);
    this.kinds.set(kind, { kind, plugin, spec });
  }

  get(kind: string): ChannelKind | undefined {
    return this.kinds.get(kind);
  }

  list(): ChannelKind[] {
    return [...this.kinds.values()];
  }

  /** Checks grammar, kind, key and argument; access rules are checked by the caller, who knows the client. */
  validate(name: string, symbols: SymbolRegistry): Validation {
    const parsed = parseChannelName(name);
    if (!parsed) return fail('TG_ERR_INVALID_CHANNEL', `Invalid channel name "${clip(name)}": use kind:SYMBOL or kind:SYMBOL:ARG, e.g. price:BTCUSDT or klines:BTCUSDT:1m`);
    const family = this.kinds.get(parsed.kind);
    if (!family) {
      const known = [...this.kinds.keys()].sort().join(', ');
      return fail('TG_ERR_UNKNOWN_CHANNEL_KIND', `Unknown channel kind "${parsed.kind}": available kinds are ${known}`);
    }
    const { spec } = family;
    if (spec.key === 'symbol') {
      if (!SYMBOL_RE.test(parsed.key)) {
        return fail('TG_ERR_INVALID_SYMBOL', `Invalid symbol "${clip(parsed.key)}": symbols are uppercase letters and digits, e.g. BTCUSDT`);
      }
      if (!symbols.loaded) return fail('TG_ERR_SYMBOLS_UNAVAILABLE');
      const status = symbols.status(parsed.key);
      if (status === undefined) {
        return { ok: false, error: { ...errorData('TG_ERR_UNKNOWN_SYMBOL', `Failed to fetch quote for ${parsed.key}`), hint: 'The exchange does not list this symbol: check the spelling (e.g. BTCUSDT) or GET /api/v1/market/symbols' } };
      }
      if (status !== 'TRADING') {
        return { ok: false, error: { ...errorData('TG_ERR_UNKNOWN_SYMBOL', `Failed to fetch quote for ${parsed.key}`), hint: `The exchange lists this symbol as ${status}, not TRADING: it has no live market data` } };
      }
    }
    const argName = spec.argName ?? 'argument';
    if (parsed.arg === undefined) {
      if (spec.args && (spec.argRequired ?? true)) {
        return fail('TG_ERR_INVALID_ARGUMENT', `Channel "${parsed.kind}" needs a ${argName}: ${parsed.kind}:${parsed.key}:<${argName}> with ${argName} one of ${spec.args.join(', ')}`);
      }
    } else if (!spec.args) {
      return fail('TG_ERR_INVALID_ARGUMENT', `Channel "${parsed.kind}" takes no third part: use ${parsed.kind}:${parsed.key}`);
    } else if (!spec.args.includes(parsed.arg)) {
      return fail(spec.argErrorCode ?? 'TG_ERR_INVALID_ARGUMENT', `Invalid ${argName} "${clip(parsed.arg)}" for ${parsed.kind}: use one of ${spec.args.join(', ')}`);
    }
    return { ok: true, channel: parsed, family };
  }
}

function fail(code: Parameters<typeof errorData>[0], message?: string): Validation {
  return { ok: false, error: errorData(code, message) };
}

/** Echoed client input is clipped so an error frame never grows with what the client sent. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
