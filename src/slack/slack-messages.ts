/** A message as Slack's slash-command and response_url APIs take it. */
export interface SlackMessage {
  response_type?: 'ephemeral' | 'in_channel';
  replace_original?: boolean;
  text: string;
  blocks?: unknown[];
}

export const ephemeral = (text: string): SlackMessage => ({ response_type: 'ephemeral', text });
export const inChannel = (text: string): SlackMessage => ({ response_type: 'in_channel', text });

/** Slack's mrkdwn escaping: `&`, `<` and `>` only (so user text cannot make links or mentions). */
export const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A mrkdwn link. */
export const link = (url: string, text: string) => `<${url}|${esc(text)}>`;

/** Text inside a code block: no backticks that would close it, no longer than `max`. */
export const codeText = (s: string, max = 200) => {
  const t = s.replace(/`/g, "'");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

export const RUNBOOK_USAGE = [
  '*/runbook* — run Firebreak runbooks as yourself',
  '`/runbook list [filter]` — runbooks you may see',
  '`/runbook show NAME` — what it does, its options and targets',
  '`/runbook plan NAME key=value … [on NODES]` — the exact commands, nothing runs',
  '`/runbook run NAME key=value … [on NODES] [for INC-42]` — run it (quote values with spaces: `msg="two words"`)',
  '`/runbook status ID` · `/runbook cancel ID` — an execution',
  '`/runbook link CODE` · `/runbook unlink` — link this Slack account to your Firebreak user',
  '`/runbook help`',
].join('\n');

export const INCIDENT_USAGE = [
  '*/incident* — incident command as yourself',
  '`/incident declare SEV2 title…` — declare (you are commander)',
  '`/incident status [INC-42]` — one incident, or the open ones',
  '`/incident sev INC-42 SEV1` · `/incident ack INC-42` · `/incident resolve INC-42`',
  '`/incident note INC-42 text…` — add to the timeline',
  '`/incident assign INC-42 ROLE @user` — roles: commander, operations_lead, communications_lead, scribe, subject_matter_expert',
  '`/incident help`',
].join('\n');
