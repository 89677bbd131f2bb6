import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/validate.js';
import { GATEWAY_OPTIONS, RegistryApiError, runGatewayCommand } from './registry-client.js';

export const REGISTRY_HELP = `Usage: infergate registry <command> [options]

Drives the model registry of a running gateway over its HTTP API (MLflow's REST API and
infergate's approvals and audit).

Commands:
  models                                   registered models, their aliases and latest versions
  versions NAME                            versions of a model: stage, status, aliases, approval, servable
  register NAME PATH [--run-id ID] [--tag k=v]... [--description TEXT]
                                           register PATH (an ONNX file or a folder with model.onnx, optional
                                           config.yaml and README.md) as a new version; creates NAME if needed
  alias NAME ALIAS VERSION                 point ALIAS (champion, challenger, ...) at VERSION
  stage NAME VERSION STAGE [--archive-existing]
                                           move VERSION to None, Staging, Production or Archived
  approve NAME VERSION [--comment TEXT]    mark VERSION APPROVED
  reject NAME VERSION [--comment TEXT]     mark VERSION REJECTED
  audit NAME                               the model's audit log, oldest first

Options:
  --url URL        the gateway's HTTP address (default $INFERGATE_URL or http://127.0.0.1:8000)
  --user NAME      who is acting, recorded in the audit log (default $INFERGATE_USER or anonymous)
  --json           print the API's JSON instead of a table
  -h, --help       show this help

PATH is resolved on this machine and sent as the version's source: the gateway reads it from
the same disk, so the CLI and the gateway must share the machine (or the path). A URI with a
scheme (s3://, runs:/, models:/, file://) is sent as given.

Examples:
  infergate registry register tabular_mlp models/tabular_mlp/2 --run-id 4f2a --tag infergate.metric.accuracy=0.986
  infergate registry approve tabular_mlp 2 --comment "holdout AUC 0.99" --user qa-lead
  infergate registry alias tabular_mlp champion 2
`;

type Json = Record<string, any>;

/** Lays rows out as a plain text table under a header row. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const when = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '');
const compact = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));

function tagsFrom(values: string[] | undefined): { key: string; value: string }[] {
  return (values ?? []).map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--tag ${JSON.stringify(kv)}: write it as key=value`);
    return { key: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
}

/** What the CLI sends as a version's source: a URI as given, a path made absolute (and checked) here. */
export function sourceFor(path: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path) && !/^[A-Za-z]:[\\/]/.test(path)) return path;
  const abs = isAbsolute(path) ? path : resolve(path);
  if (!existsSync(abs)) throw new ConfigError(`PATH '${path}' does not exist (resolved to ${abs})`);
  return abs;
}

/** `infergate registry ...`: one call (or a few) to the gateway, printed as a table or JSON. */
export async function registry(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      ...GATEWAY_OPTIONS,
      'run-id': { type: 'string' },
      tag: { type: 'string', multiple: true },
      description: { type: 'string' },
      comment: { type: 'string' },
      'archive-existing': { type: 'boolean' },
    },
  });
  const [cmd, ...args] = positionals;
  return runGatewayCommand('registry', REGISTRY_HELP, values, cmd, async ({ client, print, need }) => {
    switch (cmd) {
      case 'models': {
        need(args, 0, 'models');
        const models = await client.all('mlflow/registered-models/search', 'registered_models', { max_results: 1000 });
        print(models, () =>
          table(
            ['NAME', 'LATEST', 'ALIASES', 'UPDATED', 'DESCRIPTION'],
            models.map((m: Json) => [
              m.name,
              String(Math.max(0, ...((m.latest_versions ?? []) as Json[]).map((v) => Number(v.version))) || '-'),
              ((m.aliases ?? []) as Json[]).map((a) => `${a.alias}=${a.version}`).join(',') || '-',
              when(m.last_updated_timestamp),
              (m.description ?? '').split('\n')[0],
            ]),
          ),
        );
        return 0;
      }
      case 'versions': {
        const [name] = need(args, 1, 'versions NAME');
        const { model_versions: versions } = await client.call('GET', 'infergate/model-versions/list', { name });
        print(versions, () =>
          table(
            ['VERSION', 'STAGE', 'STATUS', 'ALIASES', 'APPROVAL', 'SERVABLE', 'CREATED', 'SOURCE'],
            (versions as Json[]).map((v) => [
              v.version,
              v.current_stage,
              v.status,
              ((v.aliases ?? []) as string[]).join(',') || '-',
              v.infergate.approval.status,
              v.infergate.servable ? 'yes' : `no: ${v.infergate.not_servable_reason ?? v.status_message ?? ''}`.slice(0, 60),
              when(v.creation_timestamp),
              v.source,
            ]),
          ),
        );
        return 0;
      }
      case 'register': {
        const [name, path] = need(args, 2, 'register NAME PATH [--run-id ID] [--tag k=v]... [--description TEXT]');
        const source = sourceFor(path);
        const tags = tagsFrom(values.tag);
        // As mlflow.register_model: create the registered model unless it exists.
        await client.call('POST', 'mlflow/registered-models/create', { name }).catch((e: unknown) => {
          if (!(e instanceof RegistryApiError && e.code === 'RESOURCE_ALREADY_EXISTS')) throw e;
        });
        const { model_version: mv } = await client.call('POST', 'mlflow/model-versions/create', { name, source, run_id: values['run-id'], tags, description: values.description });
        const { model_version: detail } = await client.call('GET', 'infergate/model-versions/get', { name, version: mv.version });
        print(detail, () => {
          if (detail.status !== 'READY') return '';
          const d = detail.infergate;
          const where = d.servable ? `stored as sha256 ${d.artifact.model_sha256.slice(0, 12)}..., ${d.artifact.model_size} bytes` : `not servable: ${d.not_servable_reason}`;
          return `registered ${name} version ${detail.version} (${detail.status}; ${where})\n`;
        });
        if (detail.status !== 'READY') {
          process.stderr.write(`infergate registry: ${name} version ${detail.version} is ${detail.status}: ${detail.status_message ?? ''}\n`);
          return 1;
        }
        return 0;
      }
      case 'alias': {
        const [name, alias, version] = need(args, 3, 'alias NAME ALIAS VERSION');
        const out = await client.call('POST', 'mlflow/registered-models/alias', { name, alias, version });
        print(out, () => `${name}: ${alias} -> version ${version}\n`);
        return 0;
      }
      case 'stage': {
        const [name, version, stage] = need(args, 3, 'stage NAME VERSION STAGE [--archive-existing]');
        const { model_version: mv } = await client.call('POST', 'mlflow/model-versions/transition-stage', { name, version, stage, archive_existing_versions: values['archive-existing'] ?? false });
        print(mv, () => `${name} version ${mv.version} is now in ${mv.current_stage}\n`);
        return 0;
      }
      case 'approve':
      case 'reject': {
        const [name, version] = need(args, 2, `${cmd} NAME VERSION [--comment TEXT]`);
        const status = cmd === 'approve' ? 'APPROVED' : 'REJECTED';
        const { model_version: mv } = await client.call('POST', 'infergate/model-versions/approval', { name, version, status, comment: values.comment });
        print(mv, () => `${name} version ${mv.version}: ${mv.infergate.approval.status} by ${mv.infergate.approval.user}\n`);
        return 0;
      }
      case 'audit': {
        const [name] = need(args, 1, 'audit NAME');
        const entries = await client.all('infergate/audit', 'entries', { name });
        print(entries, () =>
          table(
            ['TIME', 'USER', 'ACTION', 'VERSION', 'CHANGE'],
            entries.map((e: Json) => [when(e.timestamp), e.user, e.action, e.version ?? '-', [compact(e.before), compact(e.after)].filter(Boolean).join(' -> ')]),
          ),
        );
        return 0;
      }
      default:
        throw new ConfigError(`unknown registry command '${cmd}' (models, versions, register, alias, stage, approve, reject, audit)`);
    }
  });
}
