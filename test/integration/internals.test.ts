import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, cliBuilt, startCli } from '../helpers/cli.js';
import { scratchRepository } from '../helpers/gateway.js';
import { getText, rawConnect, rawRequest, statuses, waitFor } from '../helpers/raw-http.js';

/**
 * Issue 10, point 9, against the built CLI: no absolute paths in load failures or the
 * repository index, an unreadable repository is a plain startup error, a failed poll is a
 * warning, and fastify's and node's own refusals use the documented `{"error": "..."}` body.
 */

/** Runs the CLI to completion; resolves with its exit code and output. */
function runCli(args: string[], as: { uid?: number; gid?: number } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...as });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** Log lines (pino JSON) the server printed. */
function logLines(output: string): { level: number; msg: string }[] {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

describe.skipIf(!cliBuilt)('internals stay inside (built CLI; skipped only when dist/ is not built; npm test builds it)', () => {
  it('an unreadable repository is a plain startup error naming the flag, without a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infergate-notdir-'));
    const file = join(dir, 'models');
    writeFileSync(file, 'not a folder');
    const { code, out } = await runCli(['serve', '--model-repository', file, '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1']);
    expect(code).toBe(2);
    expect(out).toMatch(/infergate: model repository '.*models': cannot read the model repository folder \(ENOTDIR on scandir\).*\(--model-repository\)/);
    expect(out).not.toMatch(/\n\s+at /);
    rmSync(dir, { recursive: true });
  });

  it('a repository folder the server may not list is the same plain startup error (EACCES)', async () => {
    // As root, permissions stop nothing: the server then runs as `nobody`.
    const as = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const dir = mkdtempSync(join(tmpdir(), 'infergate-eacces-'));
    chmodSync(dir, 0o755);
    const repo = join(dir, 'models');
    mkdirSync(repo, { mode: 0o000 });
    chmodSync(repo, 0o000);
    try {
      const { code, out } = await runCli(['serve', '--model-repository', repo, '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1'], as);
      expect(code).toBe(2);
      expect(out).toMatch(/infergate: model repository '.*models': cannot read the model repository folder \(EACCES on scandir\).*\(--model-repository\)/);
      expect(out).not.toMatch(/\n\s+at /);
    } finally {
      chmodSync(repo, 0o755);
      rmSync(dir, { recursive: true });
    }
  });

  it('load failures and the repository index show paths relative to the repository; a failed poll is logged at warn', async () => {
    const dir = scratchRepository(['simple']);
    mkdirSync(join(dir, 'broken', '1'), { recursive: true });
    writeFileSync(join(dir, 'broken', '1', 'model.onnx'), 'not an onnx file');
    const cli = await startCli(dir, ['--model-control-mode', 'poll', '--repository-poll-secs', '1', '--log-level', 'info']);
    try {
      const res = await fetch(`${cli.url}/v2/repository/index`, { method: 'POST' });
      const index = (await res.json()) as { name: string; state: string; reason: string }[];
      const broken = index.find((e) => e.name === 'broken')!;
      expect(broken.state).toBe('UNAVAILABLE');
      expect(broken.reason).toMatch(/Load model from broken\/1\/model\.onnx failed/);
      expect(JSON.stringify(index)).not.toContain(dir);
      const meta = await fetch(`${cli.url}/v2/models/broken`);
      expect(meta.status).toBe(503);
      expect(await meta.text()).not.toContain(dir);
      const startup = logLines(cli.output()).find((l) => l.msg.includes("'broken' version 1 UNAVAILABLE"))!;
      expect(startup.level).toBe(40);
      expect(startup.msg).not.toContain(dir);

      // The repository folder becomes unreadable: polls fail, at warn, and nothing is unloaded.
      renameSync(dir, `${dir}.away`);
      writeFileSync(dir, 'not a folder');
      await waitFor(() => cli.output().includes('repository poll failed'), 'a failed poll');
      const failed = logLines(cli.output()).find((l) => l.msg.startsWith('repository poll failed'))!;
      expect(failed.level).toBe(40);
      expect(failed.msg).toBe("repository poll failed: cannot read the model repository folder (ENOTDIR on scandir); check that it is a folder the server's user may list");
      const idx = await fetch(`${cli.url}/v2/repository/index`, { method: 'POST' });
      expect(idx.status).toBe(503);
      expect(await idx.json()).toEqual({ error: "cannot read the model repository folder (ENOTDIR on scandir); check that it is a folder the server's user may list" });
      expect((await fetch(`${cli.url}/v2/models/simple/ready`)).status).toBe(200);
      rmSync(dir);
      renameSync(`${dir}.away`, dir);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });

  it("fastify's and node's own refusals answer in the documented {\"error\"} shape", async () => {
    const cli = await startCli(scratchRepository(['simple']));
    try {
      const port = Number(new URL(cli.url).port);
      /** Sends bytes on a fresh connection (asking to close it after the answer) and returns what came back. */
      const raw = async (text: string) => {
        const c = await rawConnect(port);
        const closing = text.includes('Connection:') || !text.includes(' HTTP/1.1\r\n') ? text : text.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n');
        c.socket.write(closing);
        await c.closed;
        return c.received();
      };
      const shapes: [string, string, number][] = [
        ['bad %-escape', getText('/v2/models/%zz/infer'), 400],
        ['over-long path segment', getText(`/v2/models/${'a'.repeat(300)}`), 414],
        ['unsupported content type', 'POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Type: application/xml\r\nContent-Length: 2\r\nConnection: close\r\n\r\n<a', 415],
        ['bad JSON for a JSON route', 'POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{x', 400],
        ['not HTTP at all', 'GARBAGE\r\n\r\n', 400],
        ['headers too large', `GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431],
        ['unknown route', getText('/v3/nope'), 404],
      ];
      for (const [what, text, status] of shapes) {
        const got = await raw(text);
        expect(statuses(got), what).toEqual([status]);
        const body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4));
        expect(Object.keys(body), what).toEqual(['error']);
        expect(typeof body.error).toBe('string');
      }
      // The connection-level refusals leave the server serving.
      const c = await rawConnect(port);
      await rawRequest(c, getText('/v2/health/live'), 1);
      expect(statuses(c.received())).toEqual([200]);
      c.socket.destroy();
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
  });
});
