// Checks what someone typed to schedule a class (CLI, REST, the studio or the LMS picker) into typed values.
// Pure; a string says what is wrong.

export interface ClassInput {
  title: string;
  startsAt: number;
  minutes: number;
  record: boolean;
  archive: boolean;
}

export interface RawClassInput {
  title?: unknown;
  /** ISO 8601 with a zone, or a datetime-local value (YYYY-MM-DDTHH:MM) read with tzOffsetMinutes. */
  startsAt?: unknown;
  /** Minutes to add to a local time to get UTC (JavaScript's getTimezoneOffset()). */
  tzOffsetMinutes?: unknown;
  minutes?: unknown;
  record?: unknown;
  archive?: unknown;
}

const flag = (v: unknown, dflt: boolean): boolean | undefined => {
  if (v === undefined || v === '') return dflt;
  if (v === true || v === 'on' || v === 'true' || v === 'yes') return true;
  if (v === false || v === 'off' || v === 'false' || v === 'no') return false;
  return undefined;
};

export function parseClassInput(r: RawClassInput, defaults: { record: boolean; archive: boolean }, now: number): ClassInput | string {
  const title = typeof r.title === 'string' ? r.title.trim() : '';
  if (!title || title.length > 200 || /[\u0000-\u001f\u007f]/.test(title)) return 'title: 1-200 printable characters';
  let startsAt: number;
  const s = typeof r.startsAt === 'string' ? r.startsAt.trim() : '';
  const local = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(s);
  if (local) {
    const off = Number(r.tzOffsetMinutes ?? 0);
    if (!Number.isInteger(off) || Math.abs(off) > 14 * 60) return 'tzOffsetMinutes: an integer number of minutes';
    startsAt = Date.UTC(+local[1]!, +local[2]! - 1, +local[3]!, +local[4]!, +local[5]!) + off * 60000;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    startsAt = Date.parse(s);
  } else {
    return 'startsAt: a date and time with a zone, e.g. 2026-12-01T09:00:00Z or 2026-12-01T10:00+01:00';
  }
  if (!Number.isFinite(startsAt)) return 'startsAt: not a real date';
  if (startsAt < now - 24 * 3600 * 1000) return 'startsAt: more than a day in the past';
  if (startsAt > now + 2 * 366 * 24 * 3600 * 1000) return 'startsAt: more than two years ahead';
  const minutes = typeof r.minutes === 'string' && /^\d+$/.test(r.minutes.trim()) ? Number(r.minutes) : r.minutes;
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 5 || minutes > 600) return 'minutes: planned length, 5-600';
  const record = flag(r.record, defaults.record);
  const archive = flag(r.archive, defaults.archive);
  if (record === undefined) return 'record: on or off';
  if (archive === undefined) return 'archive: on or off';
  return { title, startsAt, minutes, record, archive };
}
