/** One row of a side-by-side diff: the old line (left) and the new line (right). */
export interface DiffRow {
  kind: 'same' | 'changed' | 'removed' | 'added' | 'hunk';
  left?: { n: number; text: string };
  right?: { n: number; text: string };
  text?: string;
}

/** A unified diff (as GET /runbooks/:name/diff returns it) as side-by-side rows. */
export function sideBySide(unified: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let l = 0;
  let r = 0;
  let removed: string[] = [];
  let added: string[] = [];
  const flush = () => {
    const n = Math.max(removed.length, added.length);
    for (let i = 0; i < n; i++) {
      const a = removed[i];
      const b = added[i];
      rows.push({
        kind:
          a !== undefined && b !== undefined ? 'changed' : a !== undefined ? 'removed' : 'added',
        left: a !== undefined ? { n: ++l, text: a } : undefined,
        right: b !== undefined ? { n: ++r, text: b } : undefined,
      });
    }
    removed = [];
    added = [];
  };
  for (const line of unified.split('\n')) {
    if (
      line.startsWith('---') ||
      line.startsWith('+++') ||
      line.startsWith('Index:') ||
      line.startsWith('====')
    )
      continue;
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (hunk) {
      flush();
      l = Number(hunk[1]) - 1;
      r = Number(hunk[2]) - 1;
      rows.push({ kind: 'hunk', text: line });
    } else if (line.startsWith('-')) removed.push(line.slice(1));
    else if (line.startsWith('+')) added.push(line.slice(1));
    else if (line.startsWith(' ')) {
      flush();
      rows.push({
        kind: 'same',
        left: { n: ++l, text: line.slice(1) },
        right: { n: ++r, text: line.slice(1) },
      });
    } else if (line.startsWith('\\')) continue;
  }
  flush();
  return rows;
}
