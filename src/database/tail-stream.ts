import { Observable } from 'rxjs';

export interface TailEvent<Data = unknown> {
  id?: string;
  type: string;
  data: Data;
}

export interface TailSource<Row, Cursor, Data> {
  /** Where to start (the Last-Event-ID). */
  after: Cursor;
  /** The next rows after a cursor, in order, at most `pageSize`. */
  fetch: (after: Cursor, pageSize: number) => Promise<Row[]>;
  pageSize: number;
  cursorOf: (row: Row) => Cursor;
  toEvent: (row: Row) => TailEvent<Data>;
  /** Calls `wake` whenever new rows may exist (a NOTIFY); returns the unsubscribe. */
  subscribe: (wake: () => void) => Promise<() => void>;
  /** Once every row is sent: the closing event when the source has ended, else null. */
  ended?: (after: Cursor) => Promise<TailEvent<Data> | null>;
}

/**
 * Server-sent events that tail an append-only table: the rows after the client's cursor, then
 * new ones as any process appends them (woken by NOTIFY, with a 5 s safety poll), never two
 * reads at once, each row once. Completes with `ended`'s event when the source says so.
 *
 * The cursor moves past every row it sends, so the cursor column must grow in commit order: a
 * row that commits after a higher cursor value was read is never sent (nor on a Last-Event-ID
 * resume). A database sequence does not give that (ids are taken at INSERT, transactions commit
 * in any order). The two sources here do: incident timelines number entries per incident under
 * the incident's row lock (`incidents.timeline_seq`, see IncidentTimelineService.insert), and an
 * execution's log lines are numbered and written by its one log writer, one batch committed
 * before the next starts.
 */
export function tailStream<Row, Cursor, Data>(
  src: TailSource<Row, Cursor, Data>,
): Observable<TailEvent<Data>> {
  return new Observable((sub) => {
    let last = src.after;
    let busy = false;
    let again = false;
    let done = false;
    const pump = async () => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          const rows = await src.fetch(last, src.pageSize);
          for (const r of rows) {
            if (done) return;
            sub.next(src.toEvent(r));
            last = src.cursorOf(r);
          }
          if (rows.length === src.pageSize) again = true;
          else if (src.ended && !done) {
            const end = await src.ended(last);
            if (end) {
              sub.next(end);
              done = true;
              sub.complete();
            }
          }
        } while (again && !done);
      } catch (err) {
        if (!done) sub.error(err);
      } finally {
        busy = false;
      }
    };
    let unsubscribe: (() => void) | undefined;
    const safety = setInterval(() => void pump(), 5000);
    void src
      .subscribe(() => void pump())
      .then((u) => {
        if (done) u();
        else unsubscribe = u;
        void pump();
      });
    return () => {
      done = true;
      clearInterval(safety);
      unsubscribe?.();
    };
  });
}
