import { Module } from '@nestjs/common';
import { ChannelHub } from './channel-hub.service.js';
import { BinanceFeedService } from './feed.service.js';
import { MarketGateway } from './market.gateway.js';
import { StatusController } from './status.controller.js';

@Module({
  controllers: [StatusController],
  providers: [BinanceFeedService, ChannelHub, MarketGateway],
})
export class AppModule {}
