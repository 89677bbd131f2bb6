import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type HostCheck, type OrtInstall, libraryCheck, nvidiaKernelDriver, nvidiaSmi, providerFiles, unresolvedDependencies,
} from './doctor-host.js';

/** What `infergate doctor` says about one execution provider. */
export interface ProviderReport {
  provider: string;
  /** Whether infergate's execution_providers accepts this name (tensorrt is only reported). */
  servable: boolean;
  usable: boolean;
  /** One line: why it is not usable (or what it ran). */
  why: string;
  /** What to do to make it usable; absent when it is. */
  fix?: string;
  checks: HostCheck[];
  /** The session attempt: first line of onnxruntime's error, if any. */
  session: { loaded: boolean; ran?: boolean; error?: string; libraryError?: string };
}

const SHARED = 'libonnxruntime_providers_shared.so';
const PROBE = fileURLToPath(new URL('./doctor-probe.js', import.meta.url));

interface ProbeResult {
  loaded: boolean;
  ran?: boolean;
  error?: string;
  libraryError?: string;
}

/** Opens the provider in a child process (a mismatched provider can crash natively). */
export function probeSession(provider: string, modelPath: string | undefined, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const args = [PROBE, provider, ...(modelPath ? [modelPath] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code, signal) => {
      // onnxruntime logs which library failed to open, and dlerror's reason, on stderr only.
      const lib = err.replace(/\x1b\[[0-9;]*m/g, '').match(/Failed to load library (\S+) with error: ([^\n]*)/);
      const libraryError = lib ? lib[2].trim() : undefined;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        resolve({ ...(JSON.parse(line) as ProbeResult), libraryError });
        return;
      }
      const how = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (over ${timeoutMs / 1000} s?)` : ' (a native crash)'}` : `exited ${code}`;
      resolve({ loaded: false, error: `the probe process ${how}: ${err.trim().split('\n').pop() ?? ''}`.trim(), libraryError });
    });
  });
}

/** How to get the CUDA provider next to onnxruntime-node 1.29.0's core (names from its script/install.js). */
function cudaInstallFix(ort: OrtInstall): string {
  return `copy libonnxruntime_providers_cuda.so and ${SHARED} of onnxruntime ${ort.version} (GPU build, e.g. NuGet ` +
    `Microsoft.ML.OnnxRuntime.Gpu.Linux ${ort.version}, runtimes/linux-x64/native/) next to libonnxruntime.so.1 in ${ort.binDir}; ` +
    `or, on a machine with internet, run onnxruntime-node's install script, which fetches them: ` +
    `ONNXRUNTIME_NODE_INSTALL=cuda12 node ${join(ort.packageDir, 'script', 'install.js')} ` +
    `(npm 11's npm rebuild skips it: package.json's allowScripts denies it so that installs stay offline)`;
}

const NO_DRIVER_FIX = 'run on a host with an NVIDIA GPU and its driver (libcuda.so.1, /proc/driver/nvidia/version, nvidia-smi)';

/** Picks the first failed precondition as the reason, else onnxruntime's own error. */
function verdict(checks: HostCheck[], session: ProbeResult, fixes: Record<string, string>, fallbackFix: string): Pick<ProviderReport, 'usable' | 'why' | 'fix'> {
  if (session.loaded && session.ran !== false) return { usable: true, why: session.ran ? 'session created; a tiny model ran and gave the right result' : 'session created' };
  const failed = checks.find((c) => !c.ok);
  const err = session.libraryError ? `${session.error} (${session.libraryError})` : session.error;
  if (failed) return { usable: false, why: `${failed.name}: ${failed.detail}; onnxruntime says: ${err}`, fix: fixes[failed.name] ?? fallbackFix };
  return { usable: false, why: `onnxruntime says: ${err}`, fix: fallbackFix };
}

function driverChecks(): HostCheck[] {
  return [nvidiaKernelDriver(), libraryCheck('libcuda.so.1', 'CUDA driver library'), nvidiaSmi()];
}

/** Looks at one provider's preconditions, tries a session, and says what to do. */
export async function diagnose(provider: string, ort: OrtInstall, modelPath: string | undefined, timeoutMs: number): Promise<ProviderReport> {
  const checks: HostCheck[] = [];
  const fixes: Record<string, string> = {};
  let fallbackFix = 'see the error above';
  if (provider === 'cuda' || provider === 'tensorrt') {
    const lib = `libonnxruntime_providers_${provider}.so`;
    const files = providerFiles(ort.binDir, [lib, SHARED]);
    checks.push(files);
    if (files.ok) checks.push(unresolvedDependencies(join(ort.binDir, lib)));
    checks.push(...driverChecks());
    fixes['provider libraries'] = provider === 'cuda' ? cudaInstallFix(ort)
      : `copy ${lib} and ${SHARED} of onnxruntime ${ort.version} next to libonnxruntime.so.1 in ${ort.binDir} (infergate itself serves cpu, cuda and webgpu only)`;
    fixes['provider dependencies'] = 'put the folders holding the CUDA and cuDNN libraries the provider was built for on LD_LIBRARY_PATH (docs/execution-providers.md)';
    for (const n of ['NVIDIA kernel driver', 'libcuda.so.1', 'nvidia-smi']) fixes[n] = NO_DRIVER_FIX;
    fallbackFix = provider === 'cuda' ? 'check the CUDA/cuDNN versions against the provider build (docs/execution-providers.md)' : fallbackFix;
  } else if (provider === 'webgpu') {
    checks.push(libraryCheck('libvulkan.so.1', 'Vulkan loader'));
    fixes['libvulkan.so.1'] = 'install the Vulkan loader (Debian/Ubuntu: apt-get install libvulkan1) and the GPU vendor\'s Vulkan driver (NVIDIA: nvidia_icd.json, VK_DRIVER_FILES)';
    fallbackFix = 'Dawn found no GPU adapter: a GPU with a Vulkan driver is needed (VK_DRIVER_FILES names its ICD json)';
  }
  const session = await probeSession(provider, modelPath, timeoutMs);
  return { provider, servable: provider !== 'tensorrt', ...verdict(checks, session, fixes, fallbackFix), checks, session };
}
