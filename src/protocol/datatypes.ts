/** OIP v2 datatypes and how each is held in memory. */
export const DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BF16', 'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

export type NumericArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;

export type TypedArrayCtor =
  | Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | BigUint64ArrayConstructor
  | Int8ArrayConstructor | Int16ArrayConstructor | Int32ArrayConstructor | BigInt64ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor;

/** Typed array class per fixed-size datatype. BOOL is one byte; FP16/BF16 are raw 16-bit words. */
export const ARRAY_OF: Record<Exclude<Datatype, 'BYTES'>, TypedArrayCtor> = {
  BOOL: Uint8Array, UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array,
  FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array, BF16: Uint16Array,
};

export function isDatatype(s: unknown): s is Datatype {
  return typeof s === 'string' && (DATATYPES as readonly string[]).includes(s);
}

/** Bytes per element, or 0 for BYTES (variable length). */
export function elementSize(dt: Datatype): number {
  return dt === 'BYTES' ? 0 : ARRAY_OF[dt].BYTES_PER_ELEMENT;
}

/** onnxruntime tensor type names <-> OIP datatypes. */
const ORT_TO_OIP: Record<string, Datatype> = {
  bool: 'BOOL', uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64',
  int8: 'INT8', int16: 'INT16', int32: 'INT32', int64: 'INT64',
  float16: 'FP16', float32: 'FP32', float64: 'FP64', bfloat16: 'BF16', string: 'BYTES',
};
const OIP_TO_ORT: Record<Datatype, string> = Object.fromEntries(
  Object.entries(ORT_TO_OIP).map(([ort, oip]) => [oip, ort]),
) as Record<Datatype, string>;

export function oipFromOrt(ortType: string): Datatype | undefined {
  return ORT_TO_OIP[ortType];
}
export function ortFromOip(dt: Datatype): string {
  return OIP_TO_ORT[dt];
}

/** Value range of the integer types whose JS numbers could silently wrap in a typed array. */
export const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  UINT8: [0, 0xff], UINT16: [0, 0xffff], UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f], INT16: [-0x8000, 0x7fff], INT32: [-0x80000000, 0x7fffffff],
};

/** A shape as error messages print it: [1,16]. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Product of a shape's dimensions. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
