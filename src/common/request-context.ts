import type { Request } from 'express';
import type { AppAbility, Principal } from './access/ability.js';

/** What the guards attach to a request. */
export interface FirebreakRequest extends Request {
  id: string;
  principal?: Principal;
  ability?: AppAbility;
}
