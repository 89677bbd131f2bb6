import { ConfigError, type Obj, bool, int, isObj, onlyKeys } from '../config/validate.js';
import type { ColumnMapping } from './row-mapping.js';

/** What both broker consumers share in a model's `streams` block. */
interface CommonSpec {
  url: string;
  /** Version or alias the messages go to (default: the model's default version). */
  version?: string;
  /** Row objects: inputs from fields (default: the monitor's mapping, else a field named like the input). */
  columns?: ColumnMapping;
  /** Row objects: the field whose value becomes the request (and result) id. */
  id_column: string;
  /** A message that failed this many deliveries goes to the dead-letter stream with its error. */
  max_deliver: number;
  /** Messages being processed at once by this consumer. */
  max_in_flight: number;
}

/** A Redis Streams consumer group (XREADGROUP, XADD result, XACK; XAUTOCLAIM of dead consumers' entries). */
export interface RedisStreamSpec extends CommonSpec {
  type: 'redis';
  stream: string;
  group: string;
  /** This process's consumer name in the group (default host-pid). */
  consumer?: string;
  result_stream: string;
  dead_letter_stream: string;
  /** Pending entries idle this long are claimed (a dead consumer's, or a failed one's to retry). */
  claim_idle_ms: number;
  block_ms: number;
}

/** A NATS JetStream durable pull consumer (result published to a subject, then ack). */
export interface NatsStreamSpec extends CommonSpec {
  type: 'nats';
  stream: string;
  subject: string;
  durable: string;
  result_subject: string;
  dead_letter_subject: string;
  /** Unacknowledged messages are redelivered after this long (the consumer's ack_wait). */
  ack_wait_ms: number;
  /** Create the stream when it does not exist (else it must). */
  create: boolean;
  block_ms: number;
}

export type StreamSpec = RedisStreamSpec | NatsStreamSpec;

const COMMON = ['type', 'url', 'version', 'columns', 'id_column', 'max_deliver', 'max_in_flight', 'block_ms'];
const REDIS_KEYS = [...COMMON, 'stream', 'group', 'consumer', 'result_stream', 'dead_letter_stream', 'claim_idle_ms'];
const NATS_KEYS = [...COMMON, 'stream', 'subject', 'durable', 'result_subject', 'dead_letter_subject', 'ack_wait_ms', 'create'];

function name(v: unknown, where: string, dflt?: string): string {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || v.trim() === '') throw new ConfigError(`${where}: must be a non-empty string${dflt === undefined ? ' (required)' : ''}`);
  return v;
}

function columns(v: unknown, where: string): ColumnMapping | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new ConfigError(`${where}: must map each input to a field or a list of fields`);
  for (const [k, c] of Object.entries(v)) {
    const ok = typeof c === 'string' || (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string'));
    if (!ok) throw new ConfigError(`${where}.${k}: must be a field name or a list of field names`);
  }
  return v as ColumnMapping;
}

function common(o: Obj, where: string, defaultUrl: string): CommonSpec {
  const url = name(o.url, `${where}.url`, defaultUrl);
  return {
    url,
    version: o.version === undefined ? undefined : name(String(o.version), `${where}.version`),
    columns: columns(o.columns, `${where}.columns`),
    id_column: name(o.id_column, `${where}.id_column`, 'id'),
    max_deliver: int(o.max_deliver, `${where}.max_deliver`, 3, 1),
    max_in_flight: int(o.max_in_flight, `${where}.max_in_flight`, 64, 1),
  };
}

/** Validates a model's `streams` block; errors name the key (`streams[0].result_stream: ...`). */
export function parseStreams(raw: unknown): StreamSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError('streams: must be a list of {type: redis | nats, ...}');
  return raw.map((item, i): StreamSpec => {
    const where = `streams[${i}]`;
    if (!isObj(item)) throw new ConfigError(`${where}: must be a mapping`);
    if (item.type === 'redis') {
      onlyKeys(item, REDIS_KEYS, where);
      const stream = name(item.stream, `${where}.stream`);
      return {
        type: 'redis', ...common(item, where, 'redis://127.0.0.1:6379'), stream,
        group: name(item.group, `${where}.group`, 'infergate'),
        consumer: item.consumer === undefined ? undefined : name(item.consumer, `${where}.consumer`),
        result_stream: name(item.result_stream, `${where}.result_stream`),
        dead_letter_stream: name(item.dead_letter_stream, `${where}.dead_letter_stream`, `${stream}.dlq`),
        claim_idle_ms: int(item.claim_idle_ms, `${where}.claim_idle_ms`, 30_000, 1),
        block_ms: int(item.block_ms, `${where}.block_ms`, 1000, 1),
      };
    }
    if (item.type === 'nats') {
      onlyKeys(item, NATS_KEYS, where);
      const subject = name(item.subject, `${where}.subject`);
      return {
        type: 'nats', ...common(item, where, 'nats://127.0.0.1:4222'),
        stream: name(item.stream, `${where}.stream`), subject,
        durable: name(item.durable, `${where}.durable`, 'infergate'),
        result_subject: name(item.result_subject, `${where}.result_subject`),
        dead_letter_subject: name(item.dead_letter_subject, `${where}.dead_letter_subject`, `${subject}.dlq`),
        ack_wait_ms: int(item.ack_wait_ms, `${where}.ack_wait_ms`, 30_000, 1),
        create: bool(item.create, `${where}.create`, false),
        block_ms: int(item.block_ms, `${where}.block_ms`, 1000, 1),
      };
    }
    throw new ConfigError(`${where}.type: must be redis or nats, got ${JSON.stringify(item.type)} (a Kafka consumer is not built: see the README)`);
  });
}
