import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/errors.js';
import { MODEL_FILTER, VERSION_FILTER, offsetFromPageToken, pageToken, parseFilter, parseOrderBy } from '../../src/registry/search-filter.js';
import { globFromLike } from '../../src/registry/store/search.js';
import { checkAlias, checkModelName, checkTagKey } from '../../src/registry/validate.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof RegistryError ? e.code : String(e);
  }
  return 'no error';
};

describe('registry search filters (MLflow syntax)', () => {
  it('parses AND-ed comparisons on attributes and tags', () => {
    expect(parseFilter("name = 'a' and tags.`my key` LIKE 'v%' AND tag.t != \"x\"", MODEL_FILTER)).toEqual([
      { type: 'attribute', key: 'name', comparator: '=', value: 'a' },
      { type: 'tag', key: 'my key', comparator: 'LIKE', value: 'v%' },
      { type: 'tag', key: 't', comparator: '!=', value: 'x' },
    ]);
    expect(parseFilter("run_id IN ('a', 'b') AND version_number >= 2 AND source_path ILIKE '%ONNX%'", VERSION_FILTER)).toEqual([
      { type: 'attribute', key: 'run_id', comparator: 'IN', value: ['a', 'b'] },
      { type: 'attribute', key: 'version_number', comparator: '>=', value: 2 },
      { type: 'attribute', key: 'source_path', comparator: 'ILIKE', value: '%ONNX%' },
    ]);
    expect(parseFilter("name = 'it''s'", MODEL_FILTER)[0].value).toBe("it's");
    expect(parseFilter('', MODEL_FILTER)).toEqual([]);
  });

  it('refuses what MLflow refuses, as INVALID_PARAMETER_VALUE', () => {
    for (const [f, rules] of [
      ["name = 'a' OR name = 'b'", MODEL_FILTER],
      ["run_id = 'x'", MODEL_FILTER],
      ['name = a', MODEL_FILTER],
      ["name > 'a'", MODEL_FILTER],
      ["name IN ('a')", VERSION_FILTER],
      ["version_number LIKE '1'", VERSION_FILTER],
      ["params.x = '1'", VERSION_FILTER],
      ["name = 'unterminated", MODEL_FILTER],
    ] as const) {
      expect(code(() => parseFilter(f, rules)), f).toBe('INVALID_PARAMETER_VALUE');
    }
  });

  it('parses order_by and refuses unknown or repeated keys', () => {
    expect(parseOrderBy(['name DESC', 'last_updated_timestamp'], ['name', 'last_updated_timestamp'])).toEqual([
      { key: 'name', ascending: false },
      { key: 'last_updated_timestamp', ascending: true },
    ]);
    expect(code(() => parseOrderBy(['size'], ['name']))).toBe('INVALID_PARAMETER_VALUE');
    expect(code(() => parseOrderBy(['name', 'name DESC'], ['name']))).toBe('INVALID_PARAMETER_VALUE');
  });

  it('issues MLflow-style page tokens and refuses foreign ones', () => {
    expect(Buffer.from(pageToken(200), 'base64').toString()).toBe('{"offset": 200}');
    expect(offsetFromPageToken(pageToken(7))).toBe(7);
    expect(offsetFromPageToken(undefined)).toBe(0);
    for (const t of ['nope', Buffer.from('{"offset": -1}').toString('base64'), Buffer.from('[1]').toString('base64')]) {
      expect(code(() => offsetFromPageToken(t))).toBe('INVALID_PARAMETER_VALUE');
    }
  });

  it("turns LIKE patterns into case-sensitive GLOB patterns for SQLite", () => {
    expect(globFromLike('a%b_c*?[')).toBe('a*b?c[*][?][[]');
  });
});

describe('registry input rules', () => {
  it('names, aliases and tag keys', () => {
    for (const ok of ['tabular_mlp', 'My Model', 'a.b-c']) expect(code(() => checkModelName(ok)), ok).toBe('no error');
    for (const bad of ['', 'a/b', 'a\\b', '..', 'x..y', 'tab\tx', ' lead', 'x'.repeat(257)]) expect(code(() => checkModelName(bad)), bad).toBe('INVALID_PARAMETER_VALUE');
    for (const ok of ['champion', 'challenger-2', 'prod_eu']) expect(code(() => checkAlias(ok)), ok).toBe('no error');
    for (const bad of ['1', '42', 'v1', 'V7', 'latest', 'Latest', 'a b', 'a.b', '']) expect(code(() => checkAlias(bad)), bad).toBe('INVALID_PARAMETER_VALUE');
    for (const ok of ['k', 'mlflow.source', 'a/b c']) expect(code(() => checkTagKey(ok)), ok).toBe('no error');
    for (const bad of ['', 'a/../b', '/abs', './x', 'semi;colon', 'k'.repeat(251)]) expect(code(() => checkTagKey(bad)), bad).toBe('INVALID_PARAMETER_VALUE');
  });
});
