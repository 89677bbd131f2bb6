import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Facts about this host that decide whether a GPU provider can load (for `infergate doctor`). */

/** One precondition: what was looked at, whether it holds, and what was found. */
export interface HostCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Where onnxruntime-node lives and the folder its native libraries load providers from. */
export interface OrtInstall {
  version: string;
  packageDir: string;
  /** onnxruntime loads libonnxruntime_providers_*.so from the folder holding libonnxruntime.so.1. */
  binDir: string;
}

/** The onnxruntime-node this process resolves (symlinks followed, as node's resolver does). */
export function ortInstall(): OrtInstall {
  const req = createRequire(import.meta.url);
  let dir = dirname(req.resolve('onnxruntime-node'));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  return { version: pkg.version, packageDir: dir, binDir: join(dir, 'bin', 'napi-v6', process.platform, process.arch) };
}

/** Whether each named library file is in onnxruntime's bin folder. */
export function providerFiles(binDir: string, files: string[]): HostCheck {
  const missing = files.filter((f) => !existsSync(join(binDir, f)));
  return {
    name: 'provider libraries',
    ok: missing.length === 0,
    detail: missing.length ? `missing in ${binDir}: ${missing.join(', ')}` : `${files.join(', ')} present`,
  };
}

/** Libraries a provider library needs that the dynamic loader cannot find (ldd's 'not found'). */
export function unresolvedDependencies(library: string): HostCheck {
  const r = spawnSync('ldd', [library], { encoding: 'utf8' });
  if (r.error) return { name: 'provider dependencies', ok: true, detail: `not checked (ldd: ${r.error.message})` };
  const missing = r.stdout.split('\n').filter((l) => l.includes('not found')).map((l) => l.trim().split(/\s/)[0]);
  return {
    name: 'provider dependencies',
    ok: missing.length === 0,
    detail: missing.length ? `not found by the loader: ${missing.join(', ')}` : 'all resolve (ldd)',
  };
}

/** The NVIDIA kernel driver, as /proc reports it. */
export function nvidiaKernelDriver(): HostCheck {
  const path = '/proc/driver/nvidia/version';
  if (!existsSync(path)) return { name: 'NVIDIA kernel driver', ok: false, detail: `${path} absent: no NVIDIA driver loaded` };
  const first = readFileSync(path, 'utf8').split('\n')[0].replace(/\s+/g, ' ').trim();
  return { name: 'NVIDIA kernel driver', ok: true, detail: first };
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/nvidia/lib64', '/usr/lib/wsl/lib'];

/** Where the dynamic loader would find a library: ldconfig's cache, LD_LIBRARY_PATH, common folders. */
export function findLibrary(name: string): string | undefined {
  const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const line = cache.stdout?.split('\n').find((l) => l.trim().startsWith(`${name} `));
  if (line) return line.split('=>').pop()?.trim();
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

/** A library the loader must find, reported as a check. */
export function libraryCheck(name: string, what: string): HostCheck {
  const path = findLibrary(name);
  return { name, ok: path !== undefined, detail: path ? `${what}: ${path}` : `${what} not found (ldconfig -p, LD_LIBRARY_PATH, ${LIB_DIRS.join(', ')})` };
}

/** nvidia-smi's view of the GPUs, or why it could not be asked. */
export function nvidiaSmi(): HostCheck {
  const r = spawnSync('nvidia-smi', ['--query-gpu=index,name,driver_version,compute_cap,memory.total', '--format=csv,noheader'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (r.error) return { name: 'nvidia-smi', ok: false, detail: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not on PATH' : r.error.message };
  const out = `${r.stdout}${r.stderr}`.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  return { name: 'nvidia-smi', ok: r.status === 0, detail: out.join('; ') || `exited ${r.status}` };
}
