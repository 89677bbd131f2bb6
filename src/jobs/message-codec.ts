import type { ModelVersion } from '../core/model.js';
import { invalid } from '../protocol/errors.js';
import { decodeInferRequest } from '../protocol/json-codec.js';
import type { InferRequest } from '../protocol/types.js';
import { signatureOf } from './model-signature.js';
import { type ColumnMapping, RowMapper } from './row-mapping.js';

/** Row mappers per loaded version and mapping: a reload (a new version object) builds a new one. */
const mappers = new WeakMap<ModelVersion, Map<string, RowMapper>>();

function mapperFor(mv: ModelVersion, columns: ColumnMapping | undefined, idColumn: string): RowMapper {
  let byKey = mappers.get(mv);
  if (!byKey) mappers.set(mv, (byKey = new Map()));
  const key = JSON.stringify([columns ?? null, idColumn]);
  let m = byKey.get(key);
  if (!m) byKey.set(key, (m = new RowMapper(signatureOf(mv), { columns, idColumn })));
  return m;
}

/**
 * A message's request: an OIP v2 request JSON (with `inputs`), or a row object mapped by the
 * consumer's columns. Its id is the request's (or the row's id field), else the message id,
 * so a redelivered message is answered under the same id. Throws invalid_argument when the
 * message cannot be decoded (it then goes to the dead-letter stream at once).
 */
export function decodeMessage(data: string, messageId: string, mv: ModelVersion, columns: ColumnMapping | undefined, idColumn: string): InferRequest {
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch (err) {
    throw invalid(`message is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('message must be a JSON object: an OIP v2 request or a row');
  const o = body as Record<string, unknown>;
  if ('inputs' in o) {
    const req = decodeInferRequest(o);
    req.id ??= messageId;
    return req;
  }
  const mapper = mapperFor(mv, columns, idColumn);
  let row;
  try {
    row = mapper.mapRow({ line: 0, kind: 'object', object: o });
  } catch (err) {
    throw invalid(`row: ${(err as Error).message}`);
  }
  const id = row.id === undefined || row.id === null ? messageId : String(row.id);
  return { id, inputs: mapper.tensors([row]) };
}
