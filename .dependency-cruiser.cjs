// Module boundaries, enforced by `npm run lint` (dependency-cruiser). Each rule's comment says
// why; a violation fails the lint with the rule's name. See docs/architecture.md.
const FEATURES = 'auth|nodes|runbooks|executions|incidents|alerts|slack|schedules|integrations';
const TRIGGERS = 'incidents|alerts|slack|schedules|integrations';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'engine-knows-no-trigger',
      comment:
        'The execution engine is started through ExecutionsService.start by whoever triggers a run; ' +
        'it never imports incidents, alerts, Slack or schedules.',
      severity: 'error',
      from: { path: '^src/executions/' },
      to: { path: `^src/(${TRIGGERS})/` },
    },
    {
      name: 'runbooks-not-executions',
      comment: 'Runbooks are definitions (schema, versions, plans); running them is the engine’s job.',
      severity: 'error',
      from: { path: '^src/runbooks/' },
      to: { path: '^src/executions/' },
    },
    {
      name: 'nodes-not-runbooks',
      comment: 'The inventory (nodes, node filters) sits below runbooks: runbooks use node filters, not the reverse.',
      severity: 'error',
      from: { path: '^src/nodes/' },
      to: { path: '^src/(runbooks|executions)/' },
    },
    {
      name: 'audit-imports-no-feature',
      comment: 'The audit trail sits below every feature; features record into it.',
      severity: 'error',
      from: { path: '^src/audit/' },
      to: { path: `^src/(${FEATURES})/` },
    },
    {
      name: 'common-imports-no-feature',
      comment: 'common/ (errors, validation, YAML, access kernel) is below every module.',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: `^src/(${FEATURES}|audit|database|observability)/` },
    },
    {
      name: 'integrations-independent',
      comment: 'Integrations (alerts, Slack, later others) never import each other; they meet in the services they call.',
      severity: 'error',
      from: { path: '^src/(alerts|slack|schedules)/' },
      to: { path: '^src/(alerts|slack|schedules)/', pathNot: '^src/$1/' },
    },
    {
      name: 'no-foreign-entities',
      comment:
        'A module reads and writes its own tables; others go through its exported service. ' +
        'Type-only imports of an entity a service returns are fine.',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: {
        path: '^src/[^/]+/.+\\.(entity|repository)\\.ts$',
        pathNot: '^src/$1/',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'no-circular',
      comment: 'A cycle of runtime imports makes load order (and decorators) fragile; type-only edges are free.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
