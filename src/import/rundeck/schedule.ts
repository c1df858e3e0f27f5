/**
 * A Rundeck schedule → a Firebreak cron expression. Rundeck schedules are Quartz cron: seconds
 * first, an optional year, `?` for "no specific value", and weekdays 1-7 from Sunday. Firebreak
 * reads 6 fields with seconds first (croner), weekdays 0-6 from Sunday: `?` becomes `*`,
 * numeric weekdays shift by one, a year other than `*` cannot be kept.
 */
export function quartzToCron(
  schedule: unknown,
): { cron: string; changed?: string } | { error: string } {
  let fields: string[];
  if (typeof schedule === 'string') fields = schedule.trim().split(/\s+/);
  else if (schedule && typeof schedule === 'object' && !Array.isArray(schedule)) {
    const s = schedule as Record<string, unknown>;
    if (typeof s.crontab === 'string') fields = s.crontab.trim().split(/\s+/);
    else {
      const o = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
      const f = (v: unknown, d: string) =>
        typeof v === 'string' || typeof v === 'number' ? String(v) || d : d;
      const time = o(s.time);
      const dom = f(o(s.dayofmonth).day, '');
      const dow = f(o(s.weekday).day, '');
      fields = [
        f(time.seconds, '0'),
        f(time.minute, '0'),
        f(time.hour, '0'),
        dom || '?',
        f(s.month, '*'),
        dom ? '?' : dow || '*',
        f(s.year, '*'),
      ];
    }
  } else return { error: 'expected a crontab string or a time/month/weekday/year map' };
  if (fields.length !== 6 && fields.length !== 7)
    return {
      error: `expected a Quartz expression of 6 or 7 fields (seconds first), got ${fields.length}`,
    };
  const changes: string[] = [];
  const year = fields[6];
  if (year !== undefined && year !== '*') return { error: `a year (${year}) cannot be kept` };
  const [sec, min, hour, dom, month, dow] = fields;
  const day = (v: string) => (v === '?' ? '*' : v);
  if (/[LW#]/.test(dom) || /[L#]/.test(dow))
    return { error: `Quartz day rules (${dom} ${dow}: L, W, #) are not converted` };
  const weekday =
    dow === '?' || dow === '*'
      ? '*'
      : dow.replace(/\d+/g, (d) => {
          const n = Number(d);
          return String(n >= 1 && n <= 7 ? n - 1 : n);
        });
  if (weekday !== day(dow)) changes.push('weekdays renumbered from 1-7 (Sunday first) to 0-6');
  const cron = [sec, min, hour, day(dom), month, weekday].join(' ');
  return changes.length ? { cron, changed: changes.join('; ') } : { cron };
}
