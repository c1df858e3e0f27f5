import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { buildAbility, type AclDefinition, type AppAbility, type Principal } from './ability.js';
import { discoverAcls } from './acl.decorator.js';

/** Builds a caller's ability from every module's `*.acl.ts` rules (found once, at bootstrap). */
@Injectable()
export class AbilityFactory implements OnApplicationBootstrap {
  private definitions: AclDefinition[] = [];

  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    this.definitions = discoverAcls(this.discovery);
  }

  create(principal: Principal): AppAbility {
    return buildAbility(principal, this.definitions);
  }
}
