import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth/auth.module.js';
import type { AppConfig } from '../config/config.js';
import { RunbooksModule } from '../runbooks/runbooks.module.js';
import { MeSlackController } from './me-slack.controller.js';
import { SlackApprovalsService } from './slack-approvals.service.js';
import { SlackClient } from './slack-client.js';
import { SlackCommandsService } from './slack-commands.service.js';
import { SlackIdentityService } from './slack-identity.service.js';
import { SlackIncidentFeedService } from './slack-incident-feed.service.js';
import {
  SlackFollowEntity,
  SlackLinkCodeEntity,
  SlackLinkEntity,
  SlackMessageEntity,
  SlackSeenRequestEntity,
} from './slack-link.entity.js';
import { SlackController } from './slack.controller.js';

/**
 * Slack (docs/slack.md): slash commands and interactive approvals, each Slack user acting as
 * their linked Firebreak user. ExecutionsService and ApprovalsService come from the global
 * ExecutionsModule; `incidents` is the application's IncidentsModule (one instance).
 */
@Module({})
export class SlackModule {
  static register(config: AppConfig, incidents: DynamicModule): DynamicModule {
    return {
      module: SlackModule,
      imports: [
        TypeOrmModule.forFeature([
          SlackFollowEntity,
          SlackLinkEntity,
          SlackLinkCodeEntity,
          SlackSeenRequestEntity,
          SlackMessageEntity,
        ]),
        AuthModule,
        RunbooksModule,
        incidents,
      ],
      controllers: config.role === 'worker' ? [] : [SlackController, MeSlackController],
      providers: [
        SlackClient,
        SlackIdentityService,
        SlackCommandsService,
        SlackApprovalsService,
        SlackIncidentFeedService,
      ],
    };
  }
}
