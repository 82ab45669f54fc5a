// The NestJS peer of the benchmarks: the stack such a gateway is usually built on (NestJS, Express, @nestjs/platform-ws),
// written the ordinary way, serving the protocol's price:/ticker:/trades: channels and equivalent HTTP routes.
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
// The protocol's messages are {"type": ..., ...}; Nest routes on {event, data}.
app.useWebSocketAdapter(new WsAdapter(app, {
  messageParser: (data) => {
    const msg = JSON.parse(data.toString()) as { type?: string };
    return { event: String(msg.type), data: msg };
  },
}));
// Nest's default shutdown signals include SIGUSR2, which the benchmark preload uses for a collection.
app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
process.stdout.write(`nestjs listening on 127.0.0.1:${port}\n`);
