import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { type ProviderSpec, parseProviderList } from './model-config.js';
import { ConfigError, type Obj, int, isObj, str } from './validate.js';
import { DEFAULT_MAX_ELEMENTS } from '../protocol/limits.js';

/** How the model repository is controlled, as Triton's --model-control-mode. */
export type ModelControlMode = 'none' | 'poll' | 'explicit';

/** Server settings; each has a flag (--http-port), a YAML key (http-port) and an env var (INFERGATE_HTTP_PORT). */
export interface ServerConfig {
  host: string;
  httpPort: number;
  grpcPort: number;
  metricsPort: number;
  modelRepository: string;
  modelControlMode: ModelControlMode;
  loadModels: string[];
  repositoryPollSecs: number;
  executionProviders: ProviderSpec[];
  poolSize: number;
  intraOpThreads: number;
  workerMemoryLimitMb: number;
  httpBodyLimit: number;
  httpHeaderTimeoutSecs: number;
  httpRequestTimeoutSecs: number;
  httpKeepAliveTimeoutSecs: number;
  httpMaxConnections: number;
  metricsMaxConnections: number;
  maxRequestElements: number;
  grpcMaxMessageBytes: number;
  grpcMaxConnections: number;
  grpcMaxConcurrentStreams: number;
  grpcMaxConnectionIdleSecs: number;
  grpcMaxConnectionAgeSecs: number;
  grpcMaxConnectionAgeGraceSecs: number;
  grpcStreamMaxPending: number;
  drainTimeoutSecs: number;
  logLevel: string;
  /** Model registry: a SQLite file, a postgres:// URL, or 'none'. */
  registryUrl: string;
  artifactRoot: string;
  registryPollSecs: number;
  /** How often rollouts are read back from the registry and due analyses run (ms). */
  rolloutTickMs: number;
  /** The name server metadata reports (GET /v2, gRPC ServerMetadata). */
  serverName: string;
  /** Feature definitions; default: feature_store.yaml at the model repository root. */
  featureStore?: string;
  /** Batch jobs submitted over HTTP: their records, and the root of their input and output paths. */
  jobsDir: string;
}

type Kind = 'string' | 'int' | 'list' | 'mode' | 'providers' | 'level';
interface Option {
  key: keyof ServerConfig;
  flag: string;
  kind: Kind;
  help: string;
  /** Smallest value an int option takes (default: -1 for ports, 1 for byte sizes, else 0). */
  min?: number;
}

/** One table drives flags, YAML keys, environment variables and --help. */
export const SERVER_OPTIONS: Option[] = [
  { key: 'modelRepository', flag: 'model-repository', kind: 'string', help: 'model repository folder (default ./models)' },
  { key: 'host', flag: 'host', kind: 'string', help: 'address to listen on (default 0.0.0.0)' },
  { key: 'httpPort', flag: 'http-port', kind: 'int', help: 'HTTP port, OIP v2 REST (default 8000; 0 = any free port)' },
  { key: 'grpcPort', flag: 'grpc-port', kind: 'int', help: 'gRPC port (default 8001; --grpc-port=-1 turns it off)' },
  { key: 'metricsPort', flag: 'metrics-port', kind: 'int', help: 'Prometheus /metrics port (default 8002; --metrics-port=-1 turns it off)' },
  { key: 'modelControlMode', flag: 'model-control-mode', kind: 'mode', help: 'none | poll | explicit (default none)' },
  { key: 'loadModels', flag: 'load-model', kind: 'list', help: 'explicit mode: models to load at startup, comma-separated, * = all' },
  { key: 'repositoryPollSecs', flag: 'repository-poll-secs', kind: 'int', help: 'poll mode: seconds between repository scans (default 15)' },
  { key: 'executionProviders', flag: 'execution-providers', kind: 'providers', help: 'default providers in order, e.g. cuda,cpu (default cpu)' },
  { key: 'poolSize', flag: 'pool-size', kind: 'int', help: 'CPU worker threads (default: the number of cores)' },
  { key: 'intraOpThreads', flag: 'intra-op-threads', kind: 'int', help: 'onnxruntime threads per CPU worker (default 1)' },
  { key: 'workerMemoryLimitMb', flag: 'worker-memory-limit-mb', kind: 'int', help: 'JS heap limit per worker in MiB; a worker over it is replaced (default 0 = none)' },
  { key: 'httpBodyLimit', flag: 'http-body-limit', kind: 'int', help: 'largest HTTP request body in bytes (default 67108864)' },
  { key: 'httpHeaderTimeoutSecs', flag: 'http-header-timeout-secs', kind: 'int', min: 1, help: 'seconds a request\'s headers may take to arrive; then 408 (default 10)' },
  { key: 'httpRequestTimeoutSecs', flag: 'http-request-timeout-secs', kind: 'int', min: 1, help: 'seconds a whole request (headers and body) may take to arrive; then 408 (default 60)' },
  { key: 'httpKeepAliveTimeoutSecs', flag: 'http-keep-alive-timeout-secs', kind: 'int', min: 1, help: 'seconds an idle keep-alive HTTP connection stays open (default 72)' },
  { key: 'httpMaxConnections', flag: 'http-max-connections', kind: 'int', help: 'most open HTTP connections; more are answered 503 and closed (default 1024; 0 = no cap)' },
  { key: 'metricsMaxConnections', flag: 'metrics-max-connections', kind: 'int', help: 'most open /metrics connections (default 64; 0 = no cap)' },
  { key: 'maxRequestElements', flag: 'max-request-elements', kind: 'int', min: 1, help: 'most tensor elements in one request, all inputs together; more is 400 (default 16777216)' },
  { key: 'grpcMaxMessageBytes', flag: 'grpc-max-message-bytes', kind: 'int', help: 'largest gRPC message in bytes (default 67108864)' },
  { key: 'grpcMaxConnections', flag: 'grpc-max-connections', kind: 'int', help: 'most open gRPC connections; more are closed at once, their calls fail UNAVAILABLE (default 1024; 0 = no cap)' },
  { key: 'grpcMaxConcurrentStreams', flag: 'grpc-max-concurrent-streams', kind: 'int', min: 1, help: 'most calls at once on one gRPC connection (default 1024)' },
  { key: 'grpcMaxConnectionIdleSecs', flag: 'grpc-max-connection-idle-secs', kind: 'int', help: 'a gRPC connection with no call for this long gets GOAWAY (default 300; 0 = never)' },
  { key: 'grpcMaxConnectionAgeSecs', flag: 'grpc-max-connection-age-secs', kind: 'int', help: 'a gRPC connection this old gets GOAWAY (default 0 = no limit)' },
  { key: 'grpcMaxConnectionAgeGraceSecs', flag: 'grpc-max-connection-age-grace-secs', kind: 'int', help: 'after that GOAWAY, calls still open are cut after this long (default 0 = no limit)' },
  { key: 'grpcStreamMaxPending', flag: 'grpc-stream-max-pending', kind: 'int', min: 1, help: 'ModelStreamInfer: requests in flight or answers unread per stream before the server stops reading it (default 128)' },
  { key: 'drainTimeoutSecs', flag: 'drain-timeout-secs', kind: 'int', help: 'on SIGTERM, longest wait for in-flight requests (default 30)' },
  { key: 'featureStore', flag: 'feature-store', kind: 'string', help: 'feature definitions (Feast-style YAML; default: feature_store.yaml in the model repository)' },
  { key: 'logLevel', flag: 'log-level', kind: 'level', help: 'fatal | error | warn | info | debug | trace (default info)' },
  { key: 'registryUrl', flag: 'registry-url', kind: 'string', help: 'model registry store: a SQLite file or postgres://user@host/db; none turns the registry off (default ./.infergate/registry.db)' },
  { key: 'artifactRoot', flag: 'artifact-root', kind: 'string', help: 'registry artifact store folder, content-addressed by sha256 (default ./.infergate/artifacts)' },
  { key: 'registryPollSecs', flag: 'registry-poll-secs', kind: 'int', help: 'seconds between checks for registry changes made by other gateways (default 2; Postgres also pushes them at once)' },
  { key: 'rolloutTickMs', flag: 'rollout-tick-ms', kind: 'int', help: 'milliseconds between rollout checks: other gateways\' changes followed, due analyses run (default 500)' },
  { key: 'serverName', flag: 'server-name', kind: 'string', help: "name in server metadata (default infergate; Triton's example clients check for triton)" },
  { key: 'jobsDir', flag: 'jobs-dir', kind: 'string', help: 'batch jobs API: job records, and the folder job input/output paths are relative to (default ./.infergate/jobs)' },
];

export function defaultServerConfig(): ServerConfig {
  return {
    host: '0.0.0.0',
    httpPort: 8000,
    grpcPort: 8001,
    metricsPort: 8002,
    modelRepository: './models',
    modelControlMode: 'none',
    loadModels: [],
    repositoryPollSecs: 15,
    executionProviders: [{ name: 'cpu', require: false, options: {} }],
    poolSize: availableParallelism(),
    intraOpThreads: 1,
    workerMemoryLimitMb: 0,
    httpBodyLimit: 64 * 1024 * 1024,
    httpHeaderTimeoutSecs: 10,
    httpRequestTimeoutSecs: 60,
    // Longer than the 60 s idle timeout of common load balancers (AWS ALB), so the server never
    // closes a connection the balancer is about to reuse.
    httpKeepAliveTimeoutSecs: 72,
    httpMaxConnections: 1024,
    metricsMaxConnections: 64,
    maxRequestElements: DEFAULT_MAX_ELEMENTS,
    grpcMaxMessageBytes: 64 * 1024 * 1024,
    grpcMaxConnections: 1024,
    grpcMaxConcurrentStreams: 1024,
    grpcMaxConnectionIdleSecs: 300,
    grpcMaxConnectionAgeSecs: 0,
    grpcMaxConnectionAgeGraceSecs: 0,
    grpcStreamMaxPending: 128,
    drainTimeoutSecs: 30,
    logLevel: 'info',
    registryUrl: './.infergate/registry.db',
    artifactRoot: './.infergate/artifacts',
    registryPollSecs: 2,
    rolloutTickMs: 500,
    serverName: 'infergate',
    jobsDir: './.infergate/jobs',
  };
}

function setOption(cfg: ServerConfig, o: Option, value: unknown, where: string): void {
  const c = cfg as unknown as Obj;
  switch (o.kind) {
    case 'int':
      c[o.key] = int(value, where, 0, o.min ?? (o.key.endsWith('Port') ? -1 : o.key === 'httpBodyLimit' || o.key.endsWith('Bytes') ? 1 : o.key === 'rolloutTickMs' ? 50 : 0));
      break;
    case 'mode':
      c[o.key] = str(value, where, ['none', 'poll', 'explicit'] as const, 'none');
      break;
    case 'level':
      c[o.key] = str(value, where, ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info');
      break;
    case 'list':
      c[o.key] = (Array.isArray(value) ? value.map(String) : String(value).split(',')).map((s) => s.trim()).filter(Boolean);
      break;
    case 'providers':
      c[o.key] = parseProviderList(value, where);
      break;
    default:
      if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}: must be a non-empty string`);
      c[o.key] = value;
  }
}

/** Merges defaults < YAML file < environment < flags. */
export function loadServerConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const cfg = defaultServerConfig();
  const file = (flags.config as string | undefined) ?? env.INFERGATE_CONFIG;
  if (file) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
    } catch (err) {
      throw new ConfigError(`cannot read config file '${file}': ${(err as Error).message}`);
    }
    if (!isObj(raw)) throw new ConfigError(`config file '${file}' must be a mapping`);
    for (const k of Object.keys(raw)) {
      const o = SERVER_OPTIONS.find((x) => x.flag === k);
      if (!o) throw new ConfigError(`config file '${file}': unknown key '${k}' (allowed: ${SERVER_OPTIONS.map((x) => x.flag).join(', ')})`);
      setOption(cfg, o, raw[k], `${file}: ${k}`);
    }
  }
  for (const o of SERVER_OPTIONS) {
    const name = `INFERGATE_${o.flag.toUpperCase().replace(/-/g, '_')}`;
    if (env[name] !== undefined && env[name] !== '') setOption(cfg, o, env[name], name);
  }
  for (const o of SERVER_OPTIONS) {
    if (flags[o.flag] !== undefined) setOption(cfg, o, flags[o.flag], `--${o.flag}`);
  }
  if (cfg.executionProviders.length === 0) throw new ConfigError('--execution-providers: list at least one provider, e.g. cuda,cpu');
  if (cfg.poolSize < 1) throw new ConfigError('--pool-size: must be at least 1');
  if (cfg.intraOpThreads < 1) throw new ConfigError('--intra-op-threads: must be at least 1');
  if (cfg.registryPollSecs < 1) throw new ConfigError('--registry-poll-secs: must be at least 1');
  if (cfg.serverName.length > 128) throw new ConfigError('--server-name: at most 128 characters');
  if (cfg.repositoryPollSecs < 1 && cfg.modelControlMode === 'poll') throw new ConfigError('--repository-poll-secs: must be at least 1');
  if (cfg.httpHeaderTimeoutSecs > cfg.httpRequestTimeoutSecs) {
    throw new ConfigError(`--http-header-timeout-secs (${cfg.httpHeaderTimeoutSecs}) must not be longer than --http-request-timeout-secs (${cfg.httpRequestTimeoutSecs}): the headers are part of the request`);
  }
  return cfg;
}
