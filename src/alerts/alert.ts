/** The one internal alert shape every adapter produces. */
export type AlertStatus = 'firing' | 'resolved';

export interface InternalAlert {
  source: string;
  fingerprint: string;
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** ISO 8601; null when the source sent none. */
  startsAt: string | null;
  /** ISO 8601; null while firing (Alertmanager's zero time `0001-01-01T00:00:00Z`). */
  endsAt: string | null;
  generatorURL: string | null;
  groupKey: string;
}

/** A delivery as an adapter reads it: its group and alerts. */
export interface AlertBatch {
  groupKey: string;
  alerts: InternalAlert[];
  /** Alerts the source left out (Alertmanager `truncatedAlerts`). */
  truncated: number;
  /**
   * The source's id of this delivery's event (PagerDuty `event.id`, CloudEvents `source` + `id`):
   * a second delivery with the same id is the same delivery (a retry), not a new one.
   */
  eventId?: string;
}
