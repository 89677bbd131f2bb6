import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Loads proto/ and describes the wire shapes of the messages as proto-loader hands them
 * over. The proto dir is found relative to this module: src/api/grpc -> ../../../proto
 * under vitest/tsx, and dist/api/grpc -> ../../../proto after tsc; both are the repo root.
 */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

/**
 * keepCase: field names as in the .proto (Triton's clients use snake_case).
 * longs: String keeps int64/uint64 exact (decoded with BigInt where they carry data).
 * defaults: repeated fields arrive as [] and scalars as 0/'' so handlers need not guard.
 * oneofs: InferParameter tells which member is set through `parameter_choice`.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** The inference service's package definition (also fed to reflection). */
export function loadInferenceProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync('grpc_predict_v2.proto', LOADER_OPTIONS);
}

/** grpc.health.v1's package definition. */
export function loadHealthProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync('health.proto', LOADER_OPTIONS);
}

/** int64/uint64 on the wire: proto-loader gives strings (longs: String); we may send numbers. */
export type Long = string | number;

/** InferParameter: exactly one member set, named by parameter_choice. */
export interface InferParameterMsg {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: Long;
  string_param?: string;
  double_param?: number;
  uint64_param?: Long;
}

export type ParameterMap = Record<string, InferParameterMsg>;

export interface InferTensorContentsMsg {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Long[];
  uint_contents?: number[];
  uint64_contents?: Long[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferInputTensorMsg {
  name: string;
  datatype: string;
  shape: Long[];
  parameters?: ParameterMap;
  contents?: InferTensorContentsMsg | null;
}

export interface ModelInferRequestMsg {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: ParameterMap;
  inputs: InferInputTensorMsg[];
  outputs: { name: string; parameters?: ParameterMap }[];
  raw_input_contents: Uint8Array[];
}

export interface InferOutputTensorMsg {
  name: string;
  datatype: string;
  shape: Long[];
  parameters?: ParameterMap;
  contents?: InferTensorContentsMsg;
}

export interface ModelInferResponseMsg {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: ParameterMap;
  outputs: InferOutputTensorMsg[];
  raw_output_contents: Uint8Array[];
}

export interface ModelStreamInferResponseMsg {
  error_message: string;
  infer_response: ModelInferResponseMsg | null;
}

export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
