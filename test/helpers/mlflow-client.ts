/**
 * Sends registry requests the way MLflow's Python client does (mlflow/utils/rest_utils.py):
 * GET with the fields as a query string (lists as repeated keys, numbers as text), every other
 * verb with a JSON body; answers parsed as JSON whatever the status.
 */
export type Fields = Record<string, unknown>;

export interface MlflowAnswer {
  status: number;
  body: any;
}

export function queryString(fields: Fields): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  return q.toString();
}

export function mlflow(base: string, user?: string) {
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, fields: Fields = {}): Promise<MlflowAnswer> => {
    const headers: Record<string, string> = { 'user-agent': 'mlflow-python-client/2.12.2' };
    if (user) headers['x-infergate-user'] = user;
    let url = `${base}/api/2.0/${path}`;
    let body: string | undefined;
    if (method === 'GET') {
      const q = queryString(fields);
      if (q) url += `?${q}`;
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(fields);
    }
    const res = await fetch(url, { method, headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    get: (path: string, fields?: Fields) => call('GET', `mlflow/${path}`, fields),
    post: (path: string, fields?: Fields) => call('POST', `mlflow/${path}`, fields),
    patch: (path: string, fields?: Fields) => call('PATCH', `mlflow/${path}`, fields),
    del: (path: string, fields?: Fields) => call('DELETE', `mlflow/${path}`, fields),
    infergate: (method: 'GET' | 'POST', path: string, fields?: Fields) => call(method, `infergate/${path}`, fields),
  };
}
