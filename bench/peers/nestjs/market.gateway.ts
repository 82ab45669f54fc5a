// The /ws gateway: the protocol's connected/subscribe/unsubscribe/ping messages, for price:, ticker: and trades:.
import { Logger } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import WebSocket from 'ws';
import { ChannelHub } from './channel-hub.service.js';

interface ChannelsMessage {
  type: string;
  channels?: unknown;
}

const now = () => new Date().toISOString();

@WebSocketGateway({ path: '/ws' })
export class MarketGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(MarketGateway.name);

  constructor(private readonly hub: ChannelHub) {}

  handleConnection(client: WebSocket): void {
    this.hub.addClient(client);
    client.send(JSON.stringify({ type: 'connected', data: { message: 'Connected to market data feed' }, timestamp: now() }));
  }

  handleDisconnect(client: WebSocket): void {
    this.hub.removeClient(client);
  }

  @SubscribeMessage('subscribe')
  subscribe(@ConnectedSocket() client: WebSocket, @MessageBody() body: ChannelsMessage): void {
    for (const channel of this.channelsOf(client, body)) {
      if (this.hub.join(client, channel)) client.send(JSON.stringify({ type: 'subscribed', channel, timestamp: now() }));
      else client.send(JSON.stringify({ type: 'error', error: `Unknown channel: ${channel}`, timestamp: now() }));
    }
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(@ConnectedSocket() client: WebSocket, @MessageBody() body: ChannelsMessage): void {
    for (const channel of this.channelsOf(client, body)) {
      this.hub.leave(client, channel);
      client.send(JSON.stringify({ type: 'unsubscribed', channel, timestamp: now() }));
    }
  }

  @SubscribeMessage('ping')
  ping(): { type: string; timestamp: string } {
    return { type: 'pong', timestamp: now() };
  }

  private channelsOf(client: WebSocket, body: ChannelsMessage): string[] {
    if (Array.isArray(body.channels) && body.channels.every((c) => typeof c === 'string')) return body.channels as string[];
    this.logger.debug('message without a channel list');
    client.send(JSON.stringify({ type: 'error', error: 'channels must be an array of strings', timestamp: now() }));
    return [];
  }
}
