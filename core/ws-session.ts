// The /ws client protocol: limits, message validation, subscribe/unsubscribe/ping, and an error frame for every bad input.
import type { WebSocket } from 'uWebSockets.js';
import { CLOSE_CODES, errorData, type ErrorCode, type ErrorData } from './errors.js';
import { encodeError, encodeFrame, type ClientLimits } from './protocol.js';
import type { ChannelRegistry } from './channel-registry.js';
import type { SymbolRegistry } from './symbol-registry.js';
import type { Subscriber, Subscriptions } from './subscriptions.js';
import type { Config } from './config.js';

export interface Client extends Subscriber {
  userId: string | undefined;
  remoteAddress: string;
  tokens: number;
  refilledAt: number;
}

export interface SessionDeps {
  registry: ChannelRegistry;
  symbols: SymbolRegistry;
  subs: Subscriptions;
  shardFor(routeKey: string): number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export function clientLimits(config: Config): ClientLimits {
  const l = config.limits;
  return {
    maxChannels: l.maxChannelsPerClient,
    maxChannelsPerMessage: l.maxChannelsPerMessage,
    maxMessageBytes: l.maxMessageBytes,
    messagesPerSecond: l.messagesPerSecond,
    messageBurst: l.messageBurst,
  };
}

export class WsSession {
  constructor(
    private readonly deps: SessionDeps,
    private readonly limits: ClientLimits,
  ) {}

  /** Token bucket per client: `messagesPerSecond` sustained, `messageBurst` at once. */
  private allow(client: Client, now: number): boolean {
    const elapsed = (now - client.refilledAt) / 1000;
    client.refilledAt = now;
    client.tokens = Math.min(this.limits.messageBurst, client.tokens + elapsed * this.limits.messagesPerSecond);
    if (client.tokens < 1) return false;
    client.tokens -= 1;
    return true;
  }

  /** Handles one client frame. `message` is only valid during this call (uWS detaches it afterwards). */
  onMessage(ws: WebSocket<Client>, message: ArrayBuffer, isBinary: boolean): void {
    const client = ws.getUserData();
    if (!this.allow(client, Date.now())) {
      ws.send(encodeError(errorData('TG_ERR_RATE_LIMITED', `Too many messages: more than ${this.limits.messagesPerSecond}/s (burst ${this.limits.messageBurst}); the connection is closed, reconnect after a pause`)), false);
      ws.end(CLOSE_CODES.RATE_LIMITED, 'rate limit exceeded');
      return;
    }
    if (message.byteLength > this.limits.maxMessageBytes) {
      ws.send(encodeError(errorData('TG_ERR_MESSAGE_TOO_BIG', `Message of ${message.byteLength} bytes is over the ${this.limits.maxMessageBytes}-byte limit: the connection is closed`)), false);
      ws.end(CLOSE_CODES.MESSAGE_TOO_BIG, 'message too big');
      return;
    }
    if (isBinary) {
      this.error(ws, errorData('TG_ERR_BINARY_UNSUPPORTED'));
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(decoder.decode(message));
    } catch {
      this.error(ws, errorData('TG_ERR_INVALID_JSON'));
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
      this.error(ws, errorData('TG_ERR_INVALID_MESSAGE'));
      return;
    }
    const m = msg as { type: string; channels?: unknown };
    ws.cork(() => {
      switch (m.type) {
        case 'ping':
          ws.send(encodeFrame('pong', undefined, undefined), false);
          return;
        case 'subscribe':
          this.subscribe(ws, m.channels);
          return;
        case 'unsubscribe':
          this.unsubscribe(ws, m.channels);
          return;
        default: {
          const shown = m.type.length > 40 ? `${m.type.slice(0, 40)}…` : m.type;
          this.error(ws, errorData('TG_ERR_UNKNOWN_TYPE', `Unknown message type "${shown}": use "subscribe", "unsubscribe" or "ping"`));
        }
      }
    });
  }

  private error(ws: WebSocket<Client>, error: ErrorData & { hint?: string }, channel?: string): void {
    ws.send(encodeError(error, channel), false);
  }

  /** Returns the channel list, or sends an error and returns undefined. */
  private channelList(ws: WebSocket<Client>, channels: unknown): unknown[] | undefined {
    if (!Array.isArray(channels) || channels.length === 0) {
      this.error(ws, errorData('TG_ERR_INVALID_CHANNELS'));
      return undefined;
    }
    if (channels.length > this.limits.maxChannelsPerMessage) {
      this.error(ws, errorData('TG_ERR_TOO_MANY_IN_MESSAGE', `${channels.length} channels in one message is over the limit of ${this.limits.maxChannelsPerMessage}: split the list over several messages`));
      return undefined;
    }
    return channels;
  }

  private notString(ws: WebSocket<Client>, index: number): void {
    this.error(ws, errorData('TG_ERR_INVALID_CHANNEL', `channels[${index}] is not a string: channel names look like price:BTCUSDT`));
  }

  private subscribe(ws: WebSocket<Client>, channels: unknown): void {
    const list = this.channelList(ws, channels);
    if (!list) return;
    const client = ws.getUserData();
    const { registry, symbols, subs, shardFor } = this.deps;
    list.forEach((name, index) => {
      if (typeof name !== 'string') return this.notString(ws, index);
      if (client.channels.includes(name)) {
        // Idempotent: already subscribed, nothing changes.
        ws.send(encodeFrame('subscribed', name, undefined), false);
        return;
      }
      const v = registry.validate(name, symbols);
      if (!v.ok) return this.error(ws, v.error, echo(name));
      const { channel, family } = v;
      if (family.spec.key === 'user') {
        const denied: ErrorCode | undefined = client.userId === undefined ? 'TG_ERR_AUTH_REQUIRED' : client.userId !== channel.key ? 'TG_ERR_FORBIDDEN' : undefined;
        if (denied) return this.error(ws, errorData(denied), name);
      }
      if (client.channels.length >= this.limits.maxChannels) {
        return this.error(ws, errorData('TG_ERR_CHANNEL_LIMIT', `Channel limit of ${this.limits.maxChannels} per connection reached: ${name} was not subscribed; unsubscribe from another channel first`), name);
      }
      subs.add(ws, name, family.spec.key === 'symbol' ? shardFor(channel.key) : -1);
      ws.send(encodeFrame('subscribed', name, undefined), false);
      subs.sendSnapshot(ws, name);
    });
    // Pushing grows an array's backing store by half again plus 16 slots; an exact copy keeps 20 channels at 20 slots
    // (per-connection memory is what fan-out scales by).
    client.channels = client.channels.slice();
  }

  private unsubscribe(ws: WebSocket<Client>, channels: unknown): void {
    const list = this.channelList(ws, channels);
    if (!list) return;
    const client = ws.getUserData();
    list.forEach((name, index) => {
      if (typeof name !== 'string') return this.notString(ws, index);
      if (!client.channels.includes(name)) {
        const shown = echo(name);
        return this.error(ws, errorData('TG_ERR_NOT_SUBSCRIBED', `Not subscribed to ${shown}: nothing to unsubscribe`), shown);
      }
      this.deps.subs.remove(ws, name, true);
      ws.send(encodeFrame('unsubscribed', name, undefined), false);
    });
  }
}

/** A client-sent channel name echoed in an error frame, clipped so the frame never grows with the input. */
function echo(name: string): string {
  return name.length > 128 ? `${name.slice(0, 128)}…` : name;
}
