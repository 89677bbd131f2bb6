import type { FeastDtype, FeatureValue } from './types.js';

/**
 * Converts one raw source or request value to a stored value of a dtype; returns undefined
 * when it does not fit (the caller names the field). Empty CSV cells and nulls are null.
 */
export function coerceValue(raw: unknown, dtype: FeastDtype): FeatureValue | undefined {
  if (raw === null || raw === undefined || raw === '') return null;
  switch (dtype) {
    case 'Float32':
    case 'Float64': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : typeof raw === 'string' ? Number(raw) : NaN;
      if (typeof raw === 'string' && raw.trim() === '') return undefined;
      if (Number.isNaN(n)) return typeof raw === 'number' || /^nan$/i.test(String(raw)) ? null : undefined; // pandas: a missing float is NaN
      if (!Number.isFinite(n)) return undefined;
      return dtype === 'Float32' ? Math.fround(n) : n;
    }
    case 'Int32':
    case 'Int64': {
      let n: number;
      if (typeof raw === 'bigint') n = Number(raw);
      else if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^[+-]?\d+$/.test(raw)) n = Number(raw);
      else return undefined;
      if (!Number.isSafeInteger(n)) return undefined;
      if (dtype === 'Int32' && (n < -2147483648 || n > 2147483647)) return undefined;
      return n;
    }
    case 'Bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
      return undefined;
    case 'String':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean') return String(raw);
      return undefined;
  }
}

const ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Parses an event time or a materialization bound into epoch milliseconds: ISO 8601 (a time
 * without a zone is UTC, as Feast's make_tzaware), a Date, or epoch seconds as a number.
 */
export function parseTimestamp(raw: unknown): number | undefined {
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? undefined : raw.getTime();
  if (typeof raw === 'number') return Number.isFinite(raw) ? Math.round(raw * 1000) : undefined;
  if (typeof raw === 'bigint') return Number(raw) * 1000;
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  let s = raw.trim().replace(' ', 'T');
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return undefined;
  if (s.length > 10 && !ZONE.test(s)) s += 'Z';
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

/** RFC 3339 in UTC with `Z`, fractional seconds only when there are any (protobuf's JSON form). */
export function rfc3339(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
}

/** The one string a join key value is stored under. */
export function entityKeyOf(values: readonly (string | number)[]): string {
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

/** A join key value as a request gives it: a string for String keys, an integer for Int64 keys. */
export function joinKeyValue(raw: unknown, dtype: FeastDtype): string | number | undefined {
  if (dtype === 'String') return typeof raw === 'string' ? raw : undefined;
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
  if (typeof raw === 'string' && /^[+-]?\d{1,16}$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  return undefined;
}
