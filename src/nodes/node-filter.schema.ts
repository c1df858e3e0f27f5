import { z } from 'zod';

/** A node filter: which nodes a runbook, a trigger, a cluster or a node query selects. */
export const nodeFilterSchema = z
  .strictObject({
    names: z
      .array(z.string().min(1))
      .optional()
      .describe('Node names or globs (web-*); may use templates'),
    tags: z.array(z.string().min(1)).optional().describe('Nodes carrying all of these tags'),
    tagsAny: z
      .array(z.string().min(1))
      .optional()
      .describe('Nodes carrying at least one of these tags'),
    attributes: z
      .record(z.string(), z.string())
      .optional()
      .describe('Attribute equality, e.g. environment: production'),
    cluster: z.string().min(1).optional(),
    exclude: z.array(z.string().min(1)).optional().describe('Node names or globs to leave out'),
  })
  .describe('Which nodes: every given criterion must hold');

export type NodeFilter = z.infer<typeof nodeFilterSchema>;
