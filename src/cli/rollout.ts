import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/validate.js';
import { GATEWAY_OPTIONS, runGatewayCommand } from './registry-client.js';
import { table } from './registry.js';

export const ROLLOUT_HELP = `Usage: infergate rollout <command> [options]

Drives canary rollouts of a running gateway over its HTTP API (/api/2.0/infergate/rollouts).

Commands:
  create FILE              start a rollout from a spec file (YAML or JSON: model, baseline, candidate,
                           strategy, steps, interval, min_requests, failure_limit, analysis, mirror_percent,
                           match, sticky, webhook)
  list [--model NAME]      rollouts, newest first
  get ID                   one rollout: phase, weight, step, and its analysis runs
  pause ID                 hold the weight where it is
  resume ID                carry on from the step it is at
  promote ID               skip the remaining steps: move the baseline alias to the candidate now
  abort ID [--reason TEXT] end it now: the candidate's weight drops to 0, the alias stays

Options:
  --url URL        the gateway's HTTP address (default $INFERGATE_URL or http://127.0.0.1:8000)
  --user NAME      who is acting, recorded in the audit log (default $INFERGATE_USER or anonymous)
  --json           print the API's JSON instead of text
  -h, --help       show this help

Example:
  infergate rollout create canary.yaml && infergate rollout list --model tabular_mlp
`;

type Json = Record<string, any>;

/** Reads a spec file: YAML (JSON is YAML too); a read or parse error names the file. */
function readSpec(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read rollout spec ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new ConfigError(`rollout spec ${file} is not valid YAML: ${(err as Error).message}`);
  }
}

const summary = (r: Json) =>
  `rollout ${r.id}: ${r.model} ${r.baseline_version} -> ${r.candidate_version} ${r.phase} at ${r.weight}% (step ${r.step_index + 1} of ${r.spec.steps.length || 0})${r.reason ? `: ${r.reason}` : ''}\n`;

/** `infergate rollout ...`: one call to the gateway, printed as text or JSON. */
export async function rollout(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      ...GATEWAY_OPTIONS,
      model: { type: 'string' },
      reason: { type: 'string' },
    },
  });
  const [cmd, ...args] = positionals;
  return runGatewayCommand('rollout', ROLLOUT_HELP, values, cmd, async ({ client, print, need }) => {
    switch (cmd) {
      case 'create': {
        const [file] = need(args, 1, 'create FILE');
        const spec = readSpec(file);
        if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new ConfigError(`rollout spec ${file} must be a mapping (model: ..., candidate: ...)`);
        const { rollout: r } = await client.call('POST', 'infergate/rollouts', spec as Json);
        print(r, () => summary(r));
        return 0;
      }
      case 'list': {
        need(args, 0, 'list [--model NAME]');
        const { rollouts } = await client.call('GET', 'infergate/rollouts', { model: values.model });
        print(rollouts, () =>
          table(
            ['ID', 'MODEL', 'BASELINE', 'CANDIDATE', 'STRATEGY', 'PHASE', 'WEIGHT', 'RUNS', 'REASON'],
            (rollouts as Json[]).map((r) => [r.id, r.model, r.baseline_version, r.candidate_version, r.spec.strategy, r.phase, `${r.weight}%`, String(r.runs.length), r.reason ?? '']),
          ),
        );
        return 0;
      }
      case 'get': {
        const [id] = need(args, 1, 'get ID');
        const { rollout: r } = await client.call('GET', `infergate/rollouts/${encodeURIComponent(id)}`);
        print(r, () =>
          summary(r) +
          table(
            ['TIME', 'STEP', 'WEIGHT', 'OUTCOME', 'BASELINE REQ', 'CANDIDATE REQ', 'DISAGREEMENT', 'DETAIL'],
            (r.runs as Json[]).map((x) => [
              new Date(x.at).toISOString().slice(11, 23), String(x.step + 1), `${x.weight}%`, x.outcome, String(x.baseline.requests), String(x.candidate.requests),
              x.disagreement === null ? '-' : `${x.disagreement.toFixed(1)}%`, (x.failedChecks as string[]).join('; ') || x.note || '',
            ]),
          ));
        return 0;
      }
      case 'pause':
      case 'resume':
      case 'promote':
      case 'abort': {
        const [id] = need(args, 1, `${cmd} ID${cmd === 'abort' ? ' [--reason TEXT]' : ''}`);
        const { rollout: r } = await client.call('POST', `infergate/rollouts/${encodeURIComponent(id)}/${cmd}`, cmd === 'abort' && values.reason ? { reason: values.reason } : {});
        print(r, () => summary(r));
        return 0;
      }
      default:
        throw new ConfigError(`unknown rollout command '${cmd}' (create, list, get, pause, resume, promote, abort)`);
    }
  });
}
