import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { InferDeps } from '../../core/infer-call.js';
import type { ModelStatsJson } from '../../core/stats.js';
import { invalid } from '../../protocol/errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../protocol/limits.js';
import { callCancellation } from './call-cancellation.js';
import { inferOnce } from './infer.js';
import type { ModelInferRequestMsg, ModelInferResponseMsg } from './proto.js';
import { DEFAULT_STREAM_MAX_PENDING, streamInferHandler } from './stream-infer.js';
import { unary } from './unary.js';

interface NameVersion {
  name: string;
  version: string;
}

/** Empty proto strings mean "not given". */
const opt = (s: string): string | undefined => s || undefined;

function requireName(name: string, what: string): string {
  if (!name) throw invalid(`${what}: a model name is required`);
  return name;
}

/** ModelStatsJson already has Triton's field names; memory and response stats are not tracked. */
const statsToProto = (s: ModelStatsJson) => ({ ...s, memory_usage: [], response_stats: {} });

/** What the inference handlers bound beyond the dataplane's own checks. */
export interface InferenceSettings {
  limits: DecodeLimits;
  /** ModelStreamInfer: requests in flight or answers unread per stream before reading stops. */
  streamMaxPending: number;
}

const DEFAULT_SETTINGS: InferenceSettings = { limits: DEFAULT_DECODE_LIMITS, streamMaxPending: DEFAULT_STREAM_MAX_PENDING };

/** Handlers of inference.GRPCInferenceService: each decodes, calls the dataplane, encodes. */
export function inferenceService(deps: InferDeps, settings: InferenceSettings = DEFAULT_SETTINGS): UntypedServiceImplementation {
  const { dataplane } = deps;
  return {
    ServerLive: unary(() => ({ live: dataplane.live() })),
    ServerReady: unary(() => ({ ready: dataplane.ready() })),
    ModelReady: unary((req: NameVersion) => ({
      ready: dataplane.modelReady(requireName(req.name, 'ModelReady'), opt(req.version)),
    })),
    ServerMetadata: unary(() => dataplane.serverMetadata()),
    ModelMetadata: unary((req: NameVersion) => {
      const { name, versions, platform, inputs, outputs } = dataplane.modelMetadata(requireName(req.name, 'ModelMetadata'), opt(req.version));
      return { name, versions, platform, inputs, outputs };
    }),
    ModelConfig: unary((req: NameVersion) => ({
      config: dataplane.modelConfig(requireName(req.name, 'ModelConfig'), opt(req.version)),
    })),
    ModelInfer: unary(async (req: ModelInferRequestMsg, call): Promise<ModelInferResponseMsg> => {
      const { cancel, dispose } = callCancellation(call);
      try {
        return await inferOnce(deps, req, cancel, call.metadata, settings.limits);
      } finally {
        dispose();
      }
    }),
    ModelStreamInfer: streamInferHandler(deps, settings.limits, settings.streamMaxPending),
    ModelStatistics: unary((req: NameVersion) => ({
      model_stats: dataplane.statistics(opt(req.name), opt(req.version)).map(statsToProto),
    })),
    RepositoryIndex: unary(async (req: { repository_name: string; ready: boolean }) => ({
      models: await dataplane.repositoryIndex(req.ready),
    })),
    RepositoryModelLoad: unary(async (req: { model_name: string }) => {
      await dataplane.loadModel(requireName(req.model_name, 'RepositoryModelLoad'));
      return {};
    }),
    RepositoryModelUnload: unary(async (req: { model_name: string }) => {
      await dataplane.unloadModel(requireName(req.model_name, 'RepositoryModelUnload'));
      return {};
    }),
  };
}
