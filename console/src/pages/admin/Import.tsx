import {
  Alert,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  FileInput,
  Group,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api';
import { useFormError } from '../common';

interface Finding {
  level: 'converted' | 'changed' | 'skipped' | 'error';
  source: { file: string; line?: number; path?: string };
  subject: string;
  message: string;
}

interface ImportReport {
  files: Array<{ path: string; name: string; content: string }>;
  findings: Finding[];
  written: string[];
  sync?: unknown;
}

const KINDS = [
  { value: 'rundeck', label: 'Rundeck jobs (YAML or XML)', example: 'jobs.yaml' },
  { value: 'stackstorm', label: 'StackStorm action (YAML)', example: 'action.yaml' },
];

const LEVEL_COLOR: Record<Finding['level'], string> = {
  converted: 'green',
  changed: 'yellow',
  skipped: 'orange',
  error: 'red',
};

/**
 * Runbooks from another tool (POST /runbooks/import): a file uploaded or pasted is first checked
 * (a dry run: the report of what converts, what changes, what is skipped and why, and the files
 * it would write), then written into the runbooks directory and synced, all or none.
 */
export function Import() {
  const [kind, setKind] = useState('rundeck');
  const [name, setName] = useState('');
  const [content, setContent] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [busy, setBusy] = useState<'check' | 'write' | null>(null);
  const err = useFormError();
  const example = KINDS.find((k) => k.value === kind)!.example;
  const send = async (write: boolean) => {
    setBusy(write ? 'write' : 'check');
    err.setError(null);
    if (!write) setReport(null);
    try {
      setReport(
        await api<ImportReport>('/runbooks/import', {
          method: 'POST',
          body: {
            kind,
            files: [{ name: name.trim() || example, content }],
            ...(write ? { write: true, overwrite } : {}),
          },
        }),
      );
    } catch (e) {
      err.setError(e as Error);
    } finally {
      setBusy(null);
    }
  };
  const load = async (file: File | null) => {
    if (!file) return;
    setName(file.name);
    setContent(await file.text());
    setReport(null);
  };
  const errors = report?.findings.filter((f) => f.level === 'error').length ?? 0;
  const fileError = err.field('files');
  return (
    <Stack>
      <Card
        withBorder
        component="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void send(false);
        }}
      >
        <Title order={3} mb="sm">
          Import runbooks
        </Title>
        <Stack>
          <SegmentedControl
            aria-label="Import from"
            value={kind}
            onChange={(v) => {
              setKind(v);
              setReport(null);
            }}
            data={KINDS.map(({ value, label }) => ({ value, label }))}
          />
          <Group grow align="start" wrap="wrap">
            <FileInput label="Job file" placeholder={example} onChange={(f) => void load(f)} />
            <TextInput
              label="File name"
              description="The name the report uses"
              placeholder={example}
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={err.field('files[0].name')}
            />
          </Group>
          <Textarea
            label="Job definition"
            description="Or paste it here"
            value={content}
            onChange={(e) => {
              setContent(e.currentTarget.value);
              setReport(null);
            }}
            autosize
            minRows={4}
            maxRows={16}
            error={err.field('files[0].content') ?? fileError}
            styles={{ input: { fontFamily: 'monospace' } }}
          />
          {err.general && (
            <Alert color="red" role="alert">
              {err.general}
            </Alert>
          )}
          <Group>
            <Button type="submit" loading={busy === 'check'} disabled={!content.trim()}>
              Check (dry run)
            </Button>
          </Group>
        </Stack>
      </Card>
      {report && (
        <Card withBorder data-testid="import-report">
          <Title order={3} mb="sm">
            {report.written.length > 0
              ? `Written: ${report.written.join(', ')}`
              : errors > 0
                ? `${errors} error${errors === 1 ? '' : 's'}: nothing can be written`
                : `${report.files.length} runbook${report.files.length === 1 ? '' : 's'} to write`}
          </Title>
          <Table.ScrollContainer minWidth={640}>
            <Table aria-label="Import findings">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Finding</Table.Th>
                  <Table.Th>Where</Table.Th>
                  <Table.Th>About</Table.Th>
                  <Table.Th>What</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {report.findings.map((f, i) => (
                  <Table.Tr key={i} data-level={f.level}>
                    <Table.Td>
                      <Badge variant="light" color={LEVEL_COLOR[f.level]}>
                        {f.level}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Code>
                        {f.source.file}
                        {f.source.line !== undefined ? `:${f.source.line}` : ''}
                      </Code>
                    </Table.Td>
                    <Table.Td>{f.subject}</Table.Td>
                    <Table.Td>{f.message}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {report.files.length > 0 && report.written.length === 0 && (
            <Stack mt="sm" gap="xs">
              <Text size="sm">
                Files: {report.files.map((f) => f.path).join(', ')} (into the runbooks directory,
                checked like <code>firebreak lint</code>, then synced)
              </Text>
              <Group>
                <Checkbox
                  label="Replace files that exist"
                  checked={overwrite}
                  onChange={(e) => setOverwrite(e.currentTarget.checked)}
                />
                <Button
                  color="red"
                  loading={busy === 'write'}
                  disabled={errors > 0}
                  onClick={() => void send(true)}
                >
                  Write {report.files.length} runbook{report.files.length === 1 ? '' : 's'}
                </Button>
              </Group>
            </Stack>
          )}
        </Card>
      )}
    </Stack>
  );
}
