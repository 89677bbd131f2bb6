import { invalidParam } from './errors.js';

/**
 * MLflow's search filter language for the registry (mlflow/utils/search_utils.py): comparisons
 * joined by AND, each `identifier comparator value`. Identifiers are attributes (`name`,
 * `run_id`...) or tags (`tags.key`, `tags.\`a key\``); values are quoted strings, numbers
 * or, for `run_id IN`, a parenthesised list of strings.
 */
export interface Condition {
  type: 'attribute' | 'tag';
  key: string;
  comparator: string;
  value: string | number | string[];
}

/** What each searchable entity allows. */
export interface FilterRules {
  entity: string;
  attributes: readonly string[];
  numeric: readonly string[];
  /** Attributes that take `IN (...)`. */
  inList: readonly string[];
}

export const MODEL_FILTER: FilterRules = { entity: 'registered models', attributes: ['name'], numeric: [], inList: [] };
export const VERSION_FILTER: FilterRules = {
  entity: 'model versions',
  attributes: ['name', 'version_number', 'run_id', 'source_path'],
  numeric: ['version_number'],
  inList: ['run_id'],
};

const STRING_COMPARATORS = ['=', '!=', 'LIKE', 'ILIKE'];
const NUMERIC_COMPARATORS = ['=', '!=', '<', '<=', '>', '>='];

class Lexer {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    throw invalidParam(`Invalid filter '${this.text}': ${what} at position ${this.pos}.`);
  }
  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  done(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }
  peekWord(): string {
    this.skipSpace();
    const m = /^[A-Za-z_]+/.exec(this.text.slice(this.pos));
    return m ? m[0].toUpperCase() : '';
  }
  word(): string {
    const w = this.peekWord();
    this.pos += w.length;
    return w;
  }
  quoted(): string {
    const q = this.text[this.pos];
    let out = '';
    this.pos++;
    for (;;) {
      if (this.pos >= this.text.length) this.fail(`unterminated ${q}quoted${q} text`);
      const c = this.text[this.pos++];
      if (c === q) {
        if (this.text[this.pos] === q) {
          out += q; // a doubled quote stands for one
          this.pos++;
          continue;
        }
        return out;
      }
      out += c;
    }
  }
  identifier(): string {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '`' || c === '"') return this.quoted();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (!m) this.fail('expected an attribute or tags.<key>');
    this.pos += m[0].length;
    if (this.text[this.pos] !== '.') return m[0];
    this.pos++;
    const k = this.text[this.pos];
    if (k === '`' || k === '"') return `${m[0]}.${this.quoted()}`;
    const rest = /^[A-Za-z0-9_.\-/]+/.exec(this.text.slice(this.pos));
    if (!rest) this.fail(`expected a key after '${m[0]}.'`);
    this.pos += rest[0].length;
    return `${m[0]}.${rest[0]}`;
  }
  comparator(): string {
    this.skipSpace();
    const ops = /^(!=|<>|<=|>=|=|<|>)/.exec(this.text.slice(this.pos));
    if (ops) {
      this.pos += ops[0].length;
      return ops[0] === '<>' ? '!=' : ops[0];
    }
    const w = this.word();
    if (w === 'NOT') {
      if (this.word() !== 'IN') this.fail("expected IN after NOT");
      return 'NOT IN';
    }
    if (w === 'LIKE' || w === 'ILIKE' || w === 'IN') return w;
    return this.fail('expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)');
  }
  value(): string | number | string[] {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === "'" || c === '"') return this.quoted();
    if (c === '(') {
      this.pos++;
      const items: string[] = [];
      for (;;) {
        this.skipSpace();
        const q = this.text[this.pos];
        if (q !== "'" && q !== '"') this.fail('expected a quoted string in the list');
        items.push(this.quoted());
        this.skipSpace();
        if (this.text[this.pos] === ',') {
          this.pos++;
          continue;
        }
        if (this.text[this.pos] === ')') {
          this.pos++;
          return items;
        }
        this.fail("expected ',' or ')' in the list");
      }
    }
    const num = /^-?\d+(\.\d+)?/.exec(this.text.slice(this.pos));
    if (num) {
      this.pos += num[0].length;
      return Number(num[0]);
    }
    return this.fail('expected a quoted string value (e.g. \'my-value\')');
  }
}

/** Parses and checks a filter for an entity; an empty filter matches everything. */
export function parseFilter(filter: string | undefined, rules: FilterRules): Condition[] {
  if (!filter || filter.trim() === '') return [];
  const lx = new Lexer(filter);
  const out: Condition[] = [];
  for (;;) {
    const ident = lx.identifier();
    const comparator = lx.comparator();
    const value = lx.value();
    out.push(check(ident, comparator, value, rules));
    if (lx.done()) return out;
    const w = lx.word();
    if (w !== 'AND') lx.fail(`only AND joins conditions in a registry search (got '${w || filter.slice(lx.pos, lx.pos + 10)}')`);
  }
}

function check(ident: string, comparator: string, value: string | number | string[], rules: FilterRules): Condition {
  const dot = ident.indexOf('.');
  const prefix = dot > 0 ? ident.slice(0, dot) : '';
  if (prefix === 'tag' || prefix === 'tags') {
    const key = ident.slice(dot + 1);
    if (!STRING_COMPARATORS.includes(comparator)) throw invalidParam(`Invalid comparator for tag: ${comparator} (allowed: ${STRING_COMPARATORS.join(', ')}).`);
    if (typeof value !== 'string') throw invalidParam(`Expected a quoted string value for tag '${key}' (e.g. 'my-value').`);
    return { type: 'tag', key, comparator, value };
  }
  const key = prefix === 'attribute' ? ident.slice(dot + 1) : ident;
  if (dot > 0 && prefix !== 'attribute') throw invalidParam(`Invalid entity type '${prefix}'. Valid entity types are attribute, tag, tags.`);
  if (!rules.attributes.includes(key)) {
    throw invalidParam(`Invalid attribute key '${key}' specified for ${rules.entity}. Valid keys are ${rules.attributes.join(', ')}.`);
  }
  if (rules.numeric.includes(key)) {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
    if (!NUMERIC_COMPARATORS.includes(comparator)) throw invalidParam(`Invalid comparator for attribute ${key}: ${comparator}.`);
    if (!Number.isInteger(n)) throw invalidParam(`Attribute ${key} compares with an integer, got ${JSON.stringify(value)}.`);
    return { type: 'attribute', key, comparator, value: n };
  }
  if (comparator === 'IN') {
    if (!rules.inList.includes(key)) throw invalidParam(`Invalid comparator for attribute: IN (only ${rules.inList.join(', ') || 'no attribute'} takes a list).`);
    if (!Array.isArray(value)) throw invalidParam(`IN expects a parenthesised list of quoted strings for attribute ${key}.`);
    return { type: 'attribute', key, comparator, value };
  }
  if (!STRING_COMPARATORS.includes(comparator)) throw invalidParam(`Invalid comparator for attribute: ${comparator} (allowed for ${key}: ${STRING_COMPARATORS.join(', ')}).`);
  if (typeof value !== 'string') throw invalidParam(`Expected a quoted string value for attribute ${key} (e.g. 'my-value').`);
  return { type: 'attribute', key, comparator, value };
}

export interface OrderTerm {
  key: string;
  ascending: boolean;
}

/** Parses `order_by` entries (`key [ASC|DESC]`) against the keys an entity can be sorted by. */
export function parseOrderBy(orderBy: readonly string[], allowed: readonly string[]): OrderTerm[] {
  const seen = new Set<string>();
  return orderBy.map((clause) => {
    const m = /^\s*`?([A-Za-z_]+)`?(?:\s+(ASC|DESC))?\s*$/i.exec(clause);
    if (!m) throw invalidParam(`Invalid order_by clause '${clause}'. Could not be parsed.`);
    const key = m[1];
    if (!allowed.includes(key)) throw invalidParam(`Invalid order by key '${key}' specified. Valid keys are ${allowed.join(', ')}.`);
    if (seen.has(key)) throw invalidParam(`\`order_by\` contains duplicate fields: ${orderBy.join(', ')}`);
    seen.add(key);
    return { key, ascending: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
  });
}

/** MLflow's page token: base64 of `{"offset": N}` (opaque to clients). */
export function pageToken(offset: number): string {
  return Buffer.from(`{"offset": ${offset}}`).toString('base64');
}

/** The offset a page token stands for (0 without one). */
export function offsetFromPageToken(token: string | undefined): number {
  if (!token) return 0;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch {
    throw invalidParam(`Invalid page token '${token.slice(0, 100)}': not one this server issued.`);
  }
  const offset = (parsed as { offset?: unknown } | null)?.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 1) {
    throw invalidParam(`Invalid page token '${token.slice(0, 100)}': not one this server issued.`);
  }
  return offset;
}
