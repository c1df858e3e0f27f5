import type { StepDefinition } from '../../runbooks/runbook.schema.js';
import { renderStructured, renderText, renderUrl } from '../../runbooks/template.js';
import { MAX_CAPTURE_BYTES, type StepCall } from './step-executor.js';

export type HttpSpec = NonNullable<StepDefinition['http']>;

/**
 * One HTTP request of an `http` or `check.http` step: the URL rendered with every templated value
 * percent-encoded, headers refused if a value would break a line, no redirects followed, the body
 * logged (first 200 lines) and returned (up to MAX_CAPTURE_BYTES).
 */
export async function httpRequest(
  spec: HttpSpec,
  call: StepCall,
): Promise<{ status: number; body: string }> {
  const { values } = call;
  const url = renderUrl(spec.url, values);
  const method = spec.method ?? (spec.json !== undefined || spec.body ? 'POST' : 'GET');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.headers ?? {})) {
    const rendered = renderText(v, values).text;
    if (/[\r\n]/.test(rendered)) throw new Error(`header ${k} would contain a line break`);
    headers[k] = rendered;
  }
  let body: string | undefined;
  if (spec.json !== undefined) {
    body = JSON.stringify(renderStructured(spec.json, values).value);
    headers['content-type'] ??= 'application/json';
  } else if (spec.body) body = renderText(spec.body, values).text;
  call.log('system', `${method} ${url.display}`);
  const signals = [call.signal, ...(call.timeoutMs ? [AbortSignal.timeout(call.timeoutMs)] : [])];
  const res = await call.fetch(url.text, {
    method,
    headers,
    body,
    signal: AbortSignal.any(signals),
    redirect: 'manual',
  });
  const text = (await res.text()).slice(0, MAX_CAPTURE_BYTES);
  call.log('system', `HTTP ${res.status}`);
  for (const line of text.split('\n').slice(0, 200)) call.log('stdout', line);
  return { status: res.status, body: text };
}
