// The /ws protocol's shared types and the one function that serialises a server frame.
import type { ErrorData } from './errors.js';

/** Messages a client may send. */
export type ClientMessage =
  | { type: 'subscribe'; channels: string[] }
  | { type: 'unsubscribe'; channels: string[] }
  | { type: 'ping' };

export type ChannelState = 'live' | 'stale';

/** Frames the server sends; data frames of plugins add their own types. Every frame has an ISO timestamp. */
export type ServerFrame =
  | { type: 'connected'; data: ConnectedData; timestamp: string }
  | { type: 'subscribed'; channel: string; timestamp: string }
  | { type: 'unsubscribed'; channel: string; timestamp: string }
  | { type: 'pong'; timestamp: string }
  | { type: 'status'; channel: string; data: { state: ChannelState }; timestamp: string }
  | { type: 'error'; channel?: string; data: ErrorData & { hint?: string }; timestamp: string }
  | { type: string; channel: string; data: unknown; timestamp: string };

export interface ConnectedData {
  clientId: string;
  version: string;
  authenticated: boolean;
  limits: ClientLimits;
}

export interface ClientLimits {
  maxChannels: number;
  maxChannelsPerMessage: number;
  maxMessageBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
}

/** Serialises one frame. Called once per frame, never per client. */
export function encodeFrame(type: string, channel: string | undefined, data: unknown, now = Date.now()): string {
  const timestamp = new Date(now).toISOString();
  if (channel === undefined) {
    return data === undefined ? JSON.stringify({ type, timestamp }) : JSON.stringify({ type, data, timestamp });
  }
  return data === undefined ? JSON.stringify({ type, channel, timestamp }) : JSON.stringify({ type, channel, data, timestamp });
}

export function encodeError(error: ErrorData & { hint?: string }, channel?: string): string {
  return encodeFrame('error', channel, error);
}
