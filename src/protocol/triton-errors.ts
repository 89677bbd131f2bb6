import { type Datatype, formatShape } from './datatypes.js';

/**
 * Triton's wording for the errors infergate meets on the same paths, so clients and scripts
 * that match on Triton's text work unchanged (Triton's own examples look for "Request for
 * unknown model"). The texts follow triton-inference-server/core (model_lifecycle.cc,
 * model_repository_manager.cc, model.cc, infer_request.cc) and server (src/grpc/
 * infer_handler.cc, src/http_server.cc). Where infergate knows more than Triton says (why a
 * version is unavailable), it appends that after Triton's text.
 */

/** The request an error is about: Triton names its model and, for validation errors, its id. */
export interface RequestTag {
  model: string;
  id?: string;
}

/** Triton prefixes request validation errors with the request id. */
const idPrefix = (id: string | undefined): string => `[request id: ${id || '<id_unknown>'}] `;

const list = (names: string[]): string => `[${names.map((n) => `'${n}'`).join(',')}]`;

// Which model and version.

export const unknownModel = (model: string): string => `Request for unknown model: '${model}' is not found`;
export const unknownVersion = (model: string, version: string): string =>
  `Request for unknown model: '${model}' version ${version} is not found`;
export const noAvailableVersions = (model: string): string => `Request for unknown model: '${model}' has no available versions`;
export const versionNotReady = (model: string, version: string): string =>
  `Request for unknown model: '${model}' version ${version} is not at ready state`;

// The request against the model (core infer_request.cc, model.cc).

export const duplicateInput = (r: RequestTag, name: string): string => `${idPrefix(r.id)}input '${name}' already exists in request`;
export const duplicateOutput = (r: RequestTag, name: string): string => `${idPrefix(r.id)}output '${name}' already exists in request`;
export const unexpectedInput = (r: RequestTag, name: string): string => `unexpected inference input '${name}' for model '${r.model}'`;
export const unexpectedOutput = (r: RequestTag, name: string): string => `unexpected inference output '${name}' for model '${r.model}'`;

/** The request's inputs are not the model's: too few or too many. */
export function inputCount(r: RequestTag, modelInputs: string[], given: string[]): string {
  const missing = modelInputs.filter((n) => !given.includes(n));
  return `${idPrefix(r.id)}expected ${modelInputs.length} inputs but got ${given.length} inputs for model '${r.model}'. ` +
    `Got input(s) ${list(given)}, but missing required input(s) ${list(missing)}. Please provide all required input(s).`;
}

export const noShape = (r: RequestTag, name: string): string =>
  `${idPrefix(r.id)}input '${name}' has no shape but model requires batch dimension for '${r.model}'`;
export const batchMismatch = (r: RequestTag, name: string): string =>
  `${idPrefix(r.id)}input '${name}' batch size does not match other inputs for '${r.model}'`;
export const batchTooLarge = (r: RequestTag, max: number): string =>
  `${idPrefix(r.id)}inference request batch-size must be <= ${max} for '${r.model}'`;
export const dataTypeMismatch = (r: RequestTag, name: string, given: Datatype, expected: Datatype): string =>
  `${idPrefix(r.id)}inference input '${name}' data-type is '${given}', but model '${r.model}' expects '${expected}'`;

/** The shape does not fit the model's; `expected` holds the batch dimension (-1) when the model batches. */
export function shapeMismatch(r: RequestTag, name: string, expected: readonly number[], given: readonly number[], batching: boolean): string {
  const note = batching
    ? 'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. ' +
      'If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. ' +
      'See the model configuration docs for more info on max_batch_size.'
    : '';
  return `${idPrefix(r.id)}unexpected shape for input '${name}' for model '${r.model}'. Expected ${formatShape(expected)}, got ${formatShape(given)}. ${note}`;
}

export const byteSizeMismatch = (r: RequestTag, name: string, expected: number, given: number): string =>
  `${idPrefix(r.id)}input byte size mismatch for input '${name}' for model '${r.model}'. Expected ${expected}, got ${given}`;

/** BYTES data holding another number of elements than the shape says. */
export function stringCount(r: RequestTag, name: string, expected: number, given: number): string {
  return given > expected
    ? `${idPrefix(r.id)}unexpected number of string elements ${given} for inference input '${name}' for model '${r.model}', expecting ${expected}`
    : `${idPrefix(r.id)}expected ${expected} string elements for inference input '${name}' for model '${r.model}', got ${given}`;
}

export const incompleteStringLength = (r: RequestTag, name: string, available: number): string =>
  `${idPrefix(r.id)}incomplete string length indicator for inference input '${name}' for model '${r.model}', expecting 4 bytes but only ` +
  `${available} bytes available. Please make sure the string length indicator is in one buffer.`;

// gRPC ModelInferRequest (server src/grpc/infer_handler.cc).

export const contentsWithRaw = (r: RequestTag, name: string): string =>
  `contents field must not be specified when using raw_input_contents for '${name}' for model '${r.model}'`;
export const wrongContents = (r: RequestTag, name: string, contentsType: Datatype, expected: Datatype): string =>
  `unexpected explicit tensor data for input tensor '${name}' for model '${r.model}' of type '${contentsType}', expected datatype '${expected}'`;
export const noInputData = (r: RequestTag, name: string): string =>
  `unable to find data for input tensor '${name}' for model '${r.model}' in request.`;

// HTTP inference requests (server src/http_server.cc).

export const badJson = (detail: string): string => `failed to parse the request JSON buffer: ${detail}`;
export const headerLengthUnparsable = (value: string): string => `Unable to parse Inference-Header-Content-Length, got: ${value}`;
export const headerLengthRange = (bodyBytes: number, value: string): string =>
  `inference header size should be in range (0, ${bodyBytes}), got: ${value}`;
export const binaryWithoutHeader = (): string =>
  "must specify valid 'Infer-Header-Content-Length' in request header and 'binary_data_size' when passing inputs in binary data format";
export const binaryShort = (r: RequestTag, name: string, missingBytes: number): string =>
  `unexpected size for input '${name}', expecting ${missingBytes} additional bytes for model '${r.model}'`;
export const binaryLeftOver = (r: RequestTag): string => `unexpected additional input data for model '${r.model}'`;
export const halfFloatAsJson = (dt: 'FP16' | 'BF16', name: string): string =>
  `receiving ${dt} data via JSON is not supported. Please use the binary data format for input ${name}`;
/** JSON 'data' with more (or fewer) elements than the shape says. */
export const jsonDataCount = (more: boolean): string =>
  more ? "Unable to parse 'data': Shape does not match true shape of 'data' field" : "Failed to parse 'data' field: shape does not match true shape";

// Repository extension (core model_repository_manager.cc, model_lifecycle.cc).

export const controlDisabled = (): string => 'explicit model load / unload is not allowed if polling is enabled';
export const loadNoSuchModel = (model: string): string => `failed to load '${model}', failed to poll from model repository`;
export const loadNoVersion = (model: string): string => `failed to load '${model}', no version is available`;
export const loadFailed = (model: string, reasons: string): string => `load failed for model '${model}': ${reasons}`;
export const versionLoadFailed = (version: string, state: string, reason: string): string => `version ${version} is at ${state} state: ${reason};`;
