/** The registry's entities, with MLflow's model registry semantics (mlflow/protos/model_registry.proto). */

/** MLflow's legacy stages, in their canonical spelling. */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];
/** Stages `archive_existing_versions` may be used with (MLflow's "active" stages). */
export const ACTIVE_STAGES: readonly Stage[] = ['Staging', 'Production'];

export type VersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

/** SageMaker's approval names. */
export const APPROVAL_STATUSES = ['PENDING_MANUAL_APPROVAL', 'APPROVED', 'REJECTED'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export interface Tag {
  key: string;
  value: string;
}

export interface Alias {
  alias: string;
  version: string;
}

/** A tensor of an ONNX signature: OIP datatype, -1 for dynamic dimensions. */
export interface SignatureTensor {
  name: string;
  datatype: string;
  shape: number[];
}

export interface Signature {
  inputs: SignatureTensor[];
  outputs: SignatureTensor[];
}

export interface Approval {
  status: ApprovalStatus;
  user?: string;
  /** Milliseconds since the epoch. */
  timestamp?: number;
  comment?: string;
}

/** Where a stored version's files are (absent when the source could not be fetched). */
export interface StoredArtifact {
  /** sha256 over the artifact's manifest (file names and their sha256): its folder's name. */
  digest: string;
  /** sha256 of model.onnx. */
  modelSha256: string;
  /** Bytes of model.onnx. */
  modelSize: number;
  /** The artifact has a config.yaml beside model.onnx. */
  hasConfig: boolean;
}

export interface ModelVersion {
  name: string;
  /** 1, 2, 3... as strings, as MLflow sends them. */
  version: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  userId?: string;
  currentStage: Stage;
  description?: string;
  source: string;
  runId?: string;
  runLink?: string;
  status: VersionStatus;
  statusMessage?: string;
  tags: Tag[];
  aliases: string[];
  // infergate's own fields (not in MLflow's wire format):
  approval: Approval;
  servable: boolean;
  /** Why the version cannot be served, when it cannot. */
  notServableReason?: string;
  artifact?: StoredArtifact;
  signature?: Signature;
}

export interface RegisteredModel {
  name: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  description?: string;
  /** The latest version in each stage, as MLflow reports them. */
  latestVersions: ModelVersion[];
  tags: Tag[];
  aliases: Alias[];
}

/** One page of a search; `nextPageToken` is absent on the last page. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/** What each audit entry records: who did what when, and the state before and after. */
export interface AuditEntry {
  id: number;
  timestamp: number;
  user: string;
  action: string;
  name: string;
  version?: string;
  before?: unknown;
  after?: unknown;
}

/** Tag keys with a meaning to infergate (`mlflow.*` keys are MLflow's own). */
export const TAG = {
  /** On a registered model: the alias a request without a version is served from (default champion). */
  servingAlias: 'infergate.serving_alias',
  /** On a registered model: `true` makes serving aliases and Production need an APPROVED version. */
  requireApproval: 'infergate.require_approval',
  /** On a version, set by the registry: `false` when the version cannot be served. */
  servable: 'infergate.servable',
  /** On a version, set by the registry: why it cannot be served. */
  servableReason: 'infergate.servable_reason',
  /** On a version: the dataset (and its version) it was trained on. */
  dataset: 'infergate.dataset',
  /** On a version: `infergate.metric.<name>` holds a training metric (a number). */
  metricPrefix: 'infergate.metric.',
  /** On a version: `infergate.param.<name>` holds a training parameter. */
  paramPrefix: 'infergate.param.',
} as const;

/** The serving alias when a model names none. */
export const DEFAULT_SERVING_ALIAS = 'champion';
