import { ConfigError } from '../config/validate.js';
/** A small client for a gateway's registry HTTP API (MLflow's endpoints and infergate's). */
export class RegistryApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Fields = Record<string, unknown>;
type Json = Record<string, any>;

export class RegistryClient {
  constructor(
    readonly base: string,
    private readonly user?: string,
  ) {}

  async call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, fields: Fields = {}): Promise<Json> {
    const headers: Record<string, string> = {};
    if (this.user) headers['x-infergate-user'] = this.user;
    let url = `${this.base.replace(/\/+$/, '')}/api/2.0/${path}`;
    let body: string | undefined;
    if (method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(fields)) {
        if (v === undefined) continue;
        for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
      }
      if ([...q].length) url += `?${q}`;
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(fields);
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryApiError(0, 'UNREACHABLE', `cannot reach the gateway at ${this.base} (${cause?.code ?? cause?.message ?? (err as Error).message}); is 'infergate serve' running there? Pass --url or set INFERGATE_URL`);
    }
    const text = await res.text();
    let json: Json = {};
    try {
      json = text ? (JSON.parse(text) as Json) : {};
    } catch {
      throw new RegistryApiError(res.status, 'BAD_RESPONSE', `${method} ${url} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) throw new RegistryApiError(res.status, String(json.error_code ?? res.status), String(json.message ?? json.error ?? text));
    return json;
  }

  /** Follows next_page_token until the last page, gathering `field` from each. */
  async all(path: string, field: string, fields: Fields = {}): Promise<Json[]> {
    const out: Json[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('GET', path, { ...fields, page_token: token });
      out.push(...((page[field] as Json[] | undefined) ?? []));
      token = page.next_page_token as string | undefined;
    } while (token);
    return out;
  }
}

/** The options every gateway command takes: where the gateway is, who acts, JSON output, help. */
export const GATEWAY_OPTIONS = {
  url: { type: 'string' },
  user: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface GatewayCommand {
  client: RegistryClient;
  /** Prints the API's JSON with --json, else the text. */
  print(json: unknown, text: () => string): void;
  /** The positionals when there are exactly `count`, else a usage error naming the command. */
  need(positionals: string[], count: number, usage: string): string[];
}

/**
 * Runs one `infergate NAME CMD ...` command against a gateway (the help without a CMD): a client from --url / --user (or
 * the environment), one printer for --json or text; a refusal from the gateway is printed as
 * `infergate NAME: CODE: message` with exit code 1.
 */
export async function runGatewayCommand(
  name: string,
  help: string,
  values: { url?: string; user?: string; json?: boolean; help?: boolean },
  cmd: string | undefined,
  body: (c: GatewayCommand) => Promise<number>,
): Promise<number> {
  if (values.help || !cmd) {
    process.stdout.write(help);
    return values.help ? 0 : 2;
  }
  const client = new RegistryClient(values.url ?? process.env.INFERGATE_URL ?? 'http://127.0.0.1:8000', values.user ?? process.env.INFERGATE_USER);
  const c: GatewayCommand = {
    client,
    print: (json, text) => void process.stdout.write(values.json ? `${JSON.stringify(json, null, 2)}\n` : text()),
    need: (positionals, count, usage) => {
      if (positionals.length !== count) throw new ConfigError(`usage: infergate ${name} ${usage}`);
      return positionals;
    },
  };
  try {
    return await body(c);
  } catch (err) {
    if (err instanceof RegistryApiError) {
      process.stderr.write(`infergate ${name}: ${err.code === 'UNREACHABLE' ? '' : `${err.code}: `}${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
