import { SetMetadata } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { Action, AclDefinition, SubjectType } from './ability.js';

export const ACL_RULES = 'firebreak:acl-rules';
export const REQUIRED_ABILITY = 'firebreak:required-ability';

/** Marks a provider whose `define` contributes a module's rules to every ability. */
export const AclRules = () => SetMetadata(ACL_RULES, true);

export interface AclProvider {
  define: AclDefinition;
}

export interface RequiredAbility {
  action: Action;
  subject: SubjectType;
}

/**
 * Route-level check: the caller must be able to do `action` on some `subject`. Services check
 * again against the concrete record (a runbook, a user) before they act.
 */
export const CheckAbility = (action: Action, subject: SubjectType) =>
  SetMetadata(REQUIRED_ABILITY, { action, subject } satisfies RequiredAbility);

export function discoverAcls(discovery: DiscoveryService): AclDefinition[] {
  return discovery
    .getProviders()
    .filter((w) => w.metatype && w.instance && Reflect.getMetadata(ACL_RULES, w.metatype as object))
    .map((w) => {
      const p = w.instance as AclProvider;
      return p.define.bind(p);
    });
}
