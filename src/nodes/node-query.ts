import { validationFailed, type FieldProblem } from '../common/errors.js';
import { formatPath } from '../common/yaml-source.js';
import { nodeFilterSchema, type NodeFilter } from './node-filter.schema.js';
import { didYouMean } from '../common/suggest.js';
import { ATTRIBUTE_KEY_MESSAGE, ATTRIBUTE_KEY_RE } from './inventory.schema.js';

export interface NodeListQuery {
  filter: NodeFilter;
  includeDisabled: boolean;
}

const LIST_PARAMS: Record<string, keyof NodeFilter> = {
  name: 'names',
  tag: 'tags',
  tagAny: 'tagsAny',
  exclude: 'exclude',
};
const KNOWN = [...Object.keys(LIST_PARAMS), 'cluster', 'filter', 'includeDisabled', 'attr.NAME'];

const strings = (v: unknown): string[] | null => {
  const list = Array.isArray(v) ? v : [v];
  return list.every((s) => typeof s === 'string' && s !== '') ? (list as string[]) : null;
};

/**
 * The node list's query string as a node filter: `name=web-*` (repeatable, globs),
 * `tag=linux` (all of them), `tagAny=a`, `cluster=web`, `exclude=web-3`,
 * `attr.environment=production`, or the whole filter as JSON in `filter={…}`; and
 * `includeDisabled=true`. Unknown parameters are refused by name, as in request bodies.
 */
export function parseNodeQuery(raw: Record<string, unknown>): NodeListQuery {
  const problems: FieldProblem[] = [];
  const filter: NodeFilter = {};
  let includeDisabled = false;
  let json: unknown;
  let usedParams = false;
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'includeDisabled') {
      if (value === 'true' || value === 'false') includeDisabled = value === 'true';
      else problems.push({ path: key, message: 'must be true or false' });
    } else if (key === 'filter') {
      try {
        if (typeof value !== 'string') throw new Error();
        json = JSON.parse(value);
      } catch {
        problems.push({ path: key, message: 'must be a node filter as JSON' });
      }
    } else if (key in LIST_PARAMS) {
      usedParams = true;
      const list = strings(value);
      if (!list) problems.push({ path: key, message: 'must be a non-empty string' });
      else Object.assign(filter, { [LIST_PARAMS[key]]: list });
    } else if (key === 'cluster') {
      usedParams = true;
      if (typeof value !== 'string' || value === '')
        problems.push({ path: key, message: 'must be one cluster name' });
      else filter.cluster = value;
    } else if (key.startsWith('attr.')) {
      usedParams = true;
      const name = key.slice('attr.'.length);
      if (!ATTRIBUTE_KEY_RE.test(name))
        problems.push({ path: key, message: ATTRIBUTE_KEY_MESSAGE });
      else if (typeof value !== 'string')
        problems.push({ path: key, message: 'must be given once, as a string' });
      else filter.attributes = { ...filter.attributes, [name]: value };
    } else {
      problems.push({
        path: key,
        message: `unknown query parameter${didYouMean(key, KNOWN)}`,
      });
    }
  }
  if (json !== undefined) {
    if (usedParams)
      problems.push({
        path: 'filter',
        message: 'give either filter or name/tag/tagAny/cluster/exclude/attr.* parameters',
      });
    const parsed = nodeFilterSchema.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = formatPath(issue.path as Array<string | number>);
        problems.push({
          path: path ? `filter.${path}` : 'filter',
          message:
            issue.code === 'unrecognized_keys'
              ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`
              : issue.message.replace(/^Invalid input: /, ''),
        });
      }
    } else if (!usedParams) {
      Object.assign(filter, parsed.data);
    }
  }
  if (problems.length) throw validationFailed(problems);
  return { filter, includeDisabled };
}
