// The /ws protocol's shared types and the one function that serialises a server frame.
import type { ErrorData } from './errors.js';

/** Messages a client may send. */
export type ClientMessage =
  | { type: 'subscribe'; channels: string[]; since?: Record<string, number>; epoch?: string }
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
  /**
   * This server process's numbering of `seq`: a `since` given with another epoch (the server restarted, or it is
   * another gateway) is not recovered from, since the same numbers mean other frames there.
   */
  epoch: string;
}

/** The `subscribed` frame's data when the subscribe gave a `since` for the channel. */
export interface RecoveryData {
  recovered: boolean;
  /** Frames that follow, marked `"recovered": true` (0 when nothing was missed). */
  missed?: number;
  /** Why not: `epoch` (another server's numbering), `ahead` (a seq this server has not reached), `expired` (older than the history holds), `disabled` (history is off). */
  reason?: 'epoch' | 'ahead' | 'expired' | 'closed' | 'disabled';
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

/** A data frame: `seq` counts the channel's data frames since the server started, so a client can see a gap. */
export function encodeDataFrame(type: string, channel: string, seq: number, data: unknown, now = Date.now()): string {
  return JSON.stringify({ type, channel, seq, data, timestamp: new Date(now).toISOString() });
}

const SNAPSHOT_PREFIX = Buffer.from('{"snapshot":true,');

/**
 * The same data frame marked as a snapshot (the channel's latest value sent to a new subscriber), made by splicing
 * the bytes rather than parsing and re-serialising: `{"type":…}` becomes `{"snapshot":true,"type":…}`.
 */
export function markSnapshot(frame: Uint8Array): Uint8Array {
  return Buffer.concat([SNAPSHOT_PREFIX, frame.subarray(1)]);
}

const RECOVERED_PREFIX = Buffer.from('{"recovered":true,');

/** A data frame from the channel's history, sent to a client that subscribed with `since`: marked as markSnapshot does. */
export function markRecovered(frame: Uint8Array): Uint8Array {
  return Buffer.concat([RECOVERED_PREFIX, frame.subarray(1)]);
}

export function encodeError(error: ErrorData & { hint?: string }, channel?: string): string {
  return encodeFrame('error', channel, error);
}
