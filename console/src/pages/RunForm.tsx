import {
  Alert,
  Badge,
  Button,
  Card,
  Code,
  Group,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import {
  api,
  ApiError,
  enc,
  type Execution,
  type NodeInfo,
  type OptionDef,
  type PlanResult,
  type Runbook,
} from '../api';
import { FreezeBanner } from './Schedules';

type Values = Record<string, unknown>;

function initialValues(options: OptionDef[]): Values {
  const v: Values = {};
  for (const o of options) {
    if (o.default !== undefined) v[o.name] = o.default;
    else if (o.type === 'boolean') v[o.name] = false;
    else if (o.type === 'list') v[o.name] = [];
    else v[o.name] = '';
  }
  return v;
}

/** What the API gets: empty fields left out, so the runbook's defaults and required rules apply. */
function optionPayload(options: OptionDef[], values: Values): Values {
  const out: Values = {};
  for (const o of options) {
    const v = values[o.name];
    if (v === '' || v === undefined || v === null) continue;
    out[o.name] = v;
  }
  return out;
}

function OptionField({
  option,
  value,
  error,
  onChange,
}: {
  option: OptionDef;
  value: unknown;
  error?: string;
  onChange: (v: unknown) => void;
}) {
  const common = {
    label: option.name,
    description: option.description,
    required: option.required,
    error,
    name: option.name,
  };
  if (option.type === 'boolean')
    return (
      <Switch
        {...common}
        checked={value === true}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  if (option.type === 'enum')
    return (
      <Select
        {...common}
        data={option.values ?? []}
        value={typeof value === 'string' && value !== '' ? value : null}
        onChange={(v) => onChange(v ?? '')}
        clearable={!option.required}
      />
    );
  if (option.type === 'integer' || option.type === 'number')
    return (
      <NumberInput
        {...common}
        value={typeof value === 'number' ? value : ''}
        min={option.min}
        max={option.max}
        allowDecimal={option.type === 'number'}
        // The server's rules (and messages) decide; no silent clamping.
        clampBehavior="none"
        onChange={(v) => onChange(typeof v === 'number' ? v : v === '' ? '' : Number(v))}
      />
    );
  if (option.type === 'list')
    return (
      <TagsInput
        {...common}
        data={option.values ?? []}
        value={Array.isArray(value) ? (value as string[]) : []}
        onChange={onChange}
      />
    );
  if (option.secure)
    return (
      <PasswordInput
        {...common}
        autoComplete="off"
        value={typeof value === 'string' ? value : ''}
        onChange={(e) => onChange(e.currentTarget.value)}
      />
    );
  return (
    <TextInput
      {...common}
      value={typeof value === 'string' ? value : ''}
      onChange={(e) => onChange(e.currentTarget.value)}
    />
  );
}

function splitList(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** The matched nodes for a names/globs + tags filter, live (POST /nodes/resolve). */
function useTargets(names: string, tags: string) {
  const [n] = useDebouncedValue(names, 250);
  const [t] = useDebouncedValue(tags, 250);
  const filter = { names: splitList(n), tags: splitList(t) };
  const any = filter.names.length > 0 || filter.tags.length > 0;
  return useQuery({
    queryKey: ['resolve', filter],
    queryFn: () =>
      api<NodeInfo[]>('/nodes/resolve', {
        method: 'POST',
        body: {
          ...(filter.names.length ? { names: filter.names } : {}),
          ...(filter.tags.length ? { tags: filter.tags } : {}),
        },
      }),
    enabled: any,
  });
}

function PlanView({ plan }: { plan: PlanResult }) {
  return (
    <Stack data-testid="plan">
      <Group>
        <Text>
          {plan.plan.targets.length} node{plan.plan.targets.length === 1 ? '' : 's'}, strategy{' '}
          {plan.plan.strategy}, version v{plan.version}
        </Text>
        {plan.plan.approval.required && (
          <Badge color="yellow">
            needs approval by {plan.plan.approval.approvers.join(', ') || 'an approver'}
          </Badge>
        )}
      </Group>
      {plan.plan.approval.required && plan.plan.approval.reasons.length > 0 && (
        <Text size="sm">Why: {plan.plan.approval.reasons.join('; ')}</Text>
      )}
      {plan.plan.steps.map((s) => (
        <Card key={s.name} withBorder padding="sm">
          <Text fw={600}>
            {s.name}{' '}
            <Text span c="dimmed" size="sm">
              ({s.kind}
              {s.on === 'local' ? ', on the Firebreak host' : ''})
            </Text>
          </Text>
          {s.actions.map((a, i) => (
            <Stack key={i} gap={2} mt={4}>
              <Text size="xs" c="dimmed">
                {a.node ?? 'local'}
                {a.skip ? ' (skipped)' : ''}
              </Text>
              {a.command !== undefined && (
                <Code block data-testid="plan-command">
                  {a.command}
                </Code>
              )}
              {a.request && (
                <Code block>
                  {a.request.method} {a.request.url}
                </Code>
              )}
            </Stack>
          ))}
        </Card>
      ))}
    </Stack>
  );
}

/**
 * The run form, generated from the runbook's typed options; targets with a live matched-node
 * count; the plan (exact command per node) before anything runs; "run for incident" with
 * ?incident=INC-42.
 */
export function RunForm() {
  const { name = '' } = useParams();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const runbook = useQuery({
    queryKey: ['runbook', name],
    queryFn: () => api<Runbook>(`/runbooks/${enc(name)}`),
  });
  const options = useMemo(() => runbook.data?.version.definition?.options ?? [], [runbook.data]);
  const [values, setValues] = useState<Values | null>(null);
  const [names, setNames] = useState(params.get('nodes') ?? '');
  const [tags, setTags] = useState(params.get('tags') ?? '');
  const [incident, setIncident] = useState(params.get('incident') ?? '');
  const [plan, setPlan] = useState<PlanResult | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const targets = useTargets(names, tags);
  const current = values ?? initialValues(options);
  const filtered = splitList(names).length > 0 || splitList(tags).length > 0;

  if (runbook.isLoading) return <Text aria-busy="true">Loading…</Text>;
  if (runbook.error)
    return (
      <Text c="red" role="alert">
        {runbook.error.message}
      </Text>
    );
  const r = runbook.data!;

  const changed = () => {
    setPlan(null);
    setFormError(null);
  };
  const fail = (err: unknown) => {
    if (err instanceof ApiError) {
      const byField: Record<string, string> = {};
      const other: string[] = [];
      for (const p of err.problems) {
        const m = /^options\.([a-z][a-z0-9_]*)/.exec(p.path);
        if (m) byField[m[1]] = p.message;
        else other.push(`${p.path}: ${p.message}`);
      }
      setErrors(byField);
      setFormError(other.length ? `${err.message} (${other.join('; ')})` : err.message);
    } else setFormError(String(err));
  };
  const resolved = filtered ? (targets.data ?? []) : undefined;
  const preview = async (e?: FormEvent) => {
    e?.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const result = await api<PlanResult>(`/runbooks/${enc(r.name)}/plan`, {
        method: 'POST',
        body: {
          options: optionPayload(options, current),
          ...(resolved
            ? {
                nodes: resolved.map((n) => ({
                  name: n.name,
                  hostname: n.hostname,
                  port: n.port,
                  user: n.user,
                  tags: n.tags,
                  attributes: n.attributes,
                })),
              }
            : {}),
        },
      });
      setPlan(result);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };
  const run = async () => {
    setBusy(true);
    setFormError(null);
    try {
      const body = {
        runbook: r.name,
        options: optionPayload(options, current),
        ...(resolved ? { nodes: resolved.map((n) => n.name) } : {}),
      };
      const e = incident.trim()
        ? await api<Execution>(`/incidents/${enc(incident.trim())}/executions`, {
            method: 'POST',
            body,
          })
        : await api<Execution>('/executions', {
            method: 'POST',
            body: { ...body, via: 'console' },
          });
      void navigate(`/executions/${e.id}`);
    } catch (err) {
      fail(err);
      setPlan(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack maw={960}>
      <Group>
        <Title order={2}>
          Run <Link to={`/runbooks/${enc(r.name)}`}>{r.name}</Link>
        </Title>
        <Text c="dimmed">v{r.currentVersion}</Text>
      </Group>
      <FreezeBanner />
      {!r.canRun && <Alert color="yellow">You may see this runbook but not run it.</Alert>}
      {r.disabled && (
        <Alert color="gray">
          This runbook is disabled{r.disabledReason ? `: ${r.disabledReason}` : ''}.
        </Alert>
      )}
      <form onSubmit={(e) => void preview(e)} noValidate>
        <Stack>
          <Card withBorder>
            <Title order={3} mb="sm">
              Options
            </Title>
            <Stack>
              {options.length === 0 && <Text c="dimmed">This runbook takes no options.</Text>}
              {options.map((o) => (
                <OptionField
                  key={o.name}
                  option={o}
                  value={current[o.name]}
                  error={errors[o.name]}
                  onChange={(v) => {
                    setValues({ ...current, [o.name]: v });
                    changed();
                  }}
                />
              ))}
            </Stack>
          </Card>
          <Card withBorder>
            <Title order={3} mb="sm">
              Targets
            </Title>
            <Group align="start" grow>
              <TextInput
                label="Nodes"
                description="Names or globs, comma-separated; empty: the runbook's own targets"
                value={names}
                onChange={(e) => {
                  setNames(e.currentTarget.value);
                  changed();
                }}
              />
              <TextInput
                label="Tags"
                description="Nodes carrying all of these"
                value={tags}
                onChange={(e) => {
                  setTags(e.currentTarget.value);
                  changed();
                }}
              />
            </Group>
            <Text mt="sm" aria-live="polite" data-testid="matched">
              {!filtered
                ? "The runbook's own targets (the plan lists them)."
                : targets.isLoading
                  ? 'Matching…'
                  : targets.error
                    ? targets.error.message
                    : `${targets.data?.length ?? 0} node${targets.data?.length === 1 ? '' : 's'} matched${
                        targets.data && targets.data.length > 0 && targets.data.length <= 10
                          ? `: ${targets.data.map((n) => n.name).join(', ')}`
                          : ''
                      }`}
            </Text>
          </Card>
          <Card withBorder>
            <TextInput
              label="For incident"
              description="Run it for an incident (e.g. INC-42): it goes on the incident's timeline"
              value={incident}
              onChange={(e) => setIncident(e.currentTarget.value)}
              w={280}
            />
          </Card>
          {formError && (
            <Alert color="red" role="alert" data-testid="form-error">
              {formError}
            </Alert>
          )}
          <Group>
            <Button
              type="submit"
              loading={busy && !plan}
              disabled={filtered && (targets.isLoading || !targets.data)}
            >
              Preview plan
            </Button>
          </Group>
        </Stack>
      </form>
      {plan && (
        <Card withBorder>
          <Title order={3} mb="sm">
            Plan
          </Title>
          <PlanView plan={plan} />
          <Group mt="md">
            <Button
              color="red"
              onClick={() => void run()}
              loading={busy}
              disabled={!r.canRun || r.disabled}
            >
              {plan.plan.approval.required ? 'Request approval and run' : 'Run'}
              {incident.trim() ? ` for ${incident.trim()}` : ''}
            </Button>
            <Text size="sm" c="dimmed">
              Nothing has run yet.
            </Text>
          </Group>
        </Card>
      )}
    </Stack>
  );
}
