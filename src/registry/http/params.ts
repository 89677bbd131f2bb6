import type { FastifyRequest } from 'fastify';
import { invalidParam } from '../errors.js';
import type { Tag } from '../types.js';

/**
 * Request fields as MLflow's server reads them (mlflow/server/handlers.py): GET from the
 * query string (a list field as repeated keys), every other verb from a JSON body. Unknown
 * fields are ignored; a field of the wrong type is refused, naming it.
 */
export type Input = Record<string, unknown>;

const HINT = ' See the API docs for more information about request parameters.';

export function readInput(req: FastifyRequest): Input {
  const raw = req.method === 'GET' ? req.query : req.body;
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParam('The request body must be a JSON object.');
  return raw as Input;
}

const typeName = (v: unknown) => (Array.isArray(v) ? 'list' : v === null ? 'null' : typeof v);

function first(v: unknown): unknown {
  return Array.isArray(v) && v.length > 0 && typeof v[0] !== 'object' ? v[0] : v;
}

/** A string field; `required` refuses it absent or empty, as MLflow does. */
export function str(input: Input, field: string, required: true): string;
export function str(input: Input, field: string, required?: false): string | undefined;
export function str(input: Input, field: string, required = false): string | undefined {
  const v = first(input[field]);
  if (v === undefined || v === null) {
    if (required) throw invalidParam(`Missing value for required parameter '${field}'.${HINT}`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied. Hint: Value was of type '${typeName(v)}', a string is expected.${HINT}`);
  if (required && v === '') throw invalidParam(`Missing value for required parameter '${field}'.${HINT}`);
  return v;
}

/** A list of strings (repeated query keys, or a JSON array). */
export function strList(input: Input, field: string): string[] {
  const v = input[field];
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'string')) throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: a list of strings is expected.${HINT}`);
  return list as string[];
}

/** An integer given as a JSON number or a numeric string (int64 fields travel as either). */
export function int(input: Input, field: string): number | undefined {
  const v = first(input[field]);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: an integer is expected.${HINT}`);
  return n;
}

export function bool(input: Input, field: string): boolean | undefined {
  const v = first(input[field]);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: true or false is expected.${HINT}`);
}

/** `tags: [{key, value}]` as MLflow sends them. */
export function tags(input: Input, field = 'tags'): Tag[] {
  const v = input[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: a list of {key, value} is expected.${HINT}`);
  return v.map((t, i) => {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw invalidParam(`'${field}[${i}]' must be an object with 'key' and 'value'.`);
    const { key, value } = t as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || key === '') throw invalidParam(`Missing value for required parameter '${field}[${i}].key'.${HINT}`);
    if (value !== undefined && value !== null && typeof value !== 'string') throw invalidParam(`'${field}[${i}].value' must be a string, got ${typeName(value)}.`);
    return { key, value: (value as string | undefined) ?? '' };
  });
}
