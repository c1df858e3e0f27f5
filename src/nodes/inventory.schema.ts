import { z } from 'zod';
import { nodeFilterSchema } from './node-filter.schema.js';
import { FINGERPRINT_RE } from './ssh-keys.js';

/**
 * The node inventory format (`RUNBOOKS_DIR/inventory.yaml`) and the naming rules that the file,
 * the API and the Ansible import share. Credentials are referenced by name only: secrets never
 * belong in git.
 */

/** Host-like: letters, digits, dot, dash, underscore; no glob characters. */
export const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
/** Clusters and credentials (Ansible group names may be upper-case). */
export const GROUP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const CREDENTIAL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;
export const ATTRIBUTE_KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const LOGIN_USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const HOSTNAME_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9:][A-Za-z0-9._:-]{0,252})$/;
export const MAX_ATTRIBUTE_VALUE = 1024;

export const NODE_NAME_MESSAGE = 'expected letters, digits, dot, dash or underscore (up to 253)';
export const GROUP_NAME_MESSAGE = 'expected 1-63 letters, digits, dot, dash or underscore';
export const CREDENTIAL_NAME_MESSAGE =
  'expected 1-63 lower-case letters, digits, dot, dash or underscore';
export const TAG_MESSAGE = 'expected letters, digits and . _ : / - (up to 64)';
export const ATTRIBUTE_KEY_MESSAGE =
  'attribute names are letters, digits, dot, dash or underscore, starting with a letter or _';
export const USER_MESSAGE = 'expected a login user name';
export const HOSTNAME_MESSAGE = 'expected a host name or IP address';
export const FINGERPRINT_MESSAGE = 'expected SHA256:… as `ssh-keygen -lf` prints it';

/** Attribute values are strings; YAML numbers and booleans are taken as their text. */
const attributeValue = z
  .union([z.string(), z.number(), z.boolean()])
  .transform(String)
  .pipe(z.string().max(MAX_ATTRIBUTE_VALUE));

export const attributesSchema = z.record(
  z.string().regex(ATTRIBUTE_KEY_RE, ATTRIBUTE_KEY_MESSAGE),
  attributeValue,
);

/** A cluster's filter: a node filter that does not name another cluster. */
export const clusterFilterSchema = nodeFilterSchema.omit({ cluster: true });

export const inventoryNodeSchema = z.strictObject({
  name: z.string().regex(NODE_NAME_RE, NODE_NAME_MESSAGE),
  hostname: z
    .string()
    .regex(HOSTNAME_RE, HOSTNAME_MESSAGE)
    .optional()
    .describe('Defaults to the name'),
  port: z.number().int().min(1).max(65535).optional().describe('Default 22'),
  user: z
    .string()
    .regex(LOGIN_USER_RE, USER_MESSAGE)
    .optional()
    .describe("Default: the credential's username, else root"),
  tags: z.array(z.string().regex(TAG_RE, TAG_MESSAGE)).max(100).optional(),
  attributes: attributesSchema.optional(),
  credential: z
    .string()
    .regex(CREDENTIAL_NAME_RE, CREDENTIAL_NAME_MESSAGE)
    .optional()
    .describe('Name of a credential created through the API'),
  hostKey: z.string().regex(FINGERPRINT_RE, FINGERPRINT_MESSAGE).optional(),
  trustOnFirstUse: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

export const inventoryClusterSchema = z.strictObject({
  name: z.string().regex(GROUP_NAME_RE, GROUP_NAME_MESSAGE),
  description: z.string().max(500).optional(),
  nodes: z.array(z.string().min(1).max(253)).min(1).optional().describe('Node names or globs'),
  filter: clusterFilterSchema.optional(),
});

export const inventorySchema = z.strictObject({
  nodes: z.array(inventoryNodeSchema).optional(),
  clusters: z.array(inventoryClusterSchema).optional(),
});

export type Inventory = z.infer<typeof inventorySchema>;

/** Known keys per position, for "did you mean" on unknown ones. */
export const INVENTORY_KEYS = {
  root: Object.keys(inventorySchema.shape),
  node: Object.keys(inventoryNodeSchema.shape),
  cluster: Object.keys(inventoryClusterSchema.shape),
  filter: Object.keys(clusterFilterSchema.shape),
};
