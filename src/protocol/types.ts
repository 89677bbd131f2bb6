import type { Datatype, NumericArray } from './datatypes.js';

/** Parameter values as OIP v2 allows them. */
export type ParamValue = string | number | boolean;
export type Parameters = Record<string, ParamValue>;

/** Tensor payload: typed array for fixed-size types, strings or raw bytes for BYTES. */
export type TensorData = NumericArray | string[] | Uint8Array[];

/** A decoded tensor: data is always flat, row-major. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
  parameters?: Parameters;
}

/** An output the client asked for, with its per-output parameters (e.g. binary_data). */
export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

/** A decoded inference request, protocol-neutral. */
export interface InferRequest {
  id?: string;
  inputs: Tensor[];
  outputs?: RequestedOutput[];
  parameters?: Parameters;
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  parameters?: Record<string, ParamValue>;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}
