import { clip } from '../protocol/clip.js';
import { formatShape } from '../protocol/datatypes.js';
import { InferError } from '../protocol/errors.js';

/**
 * onnxruntime's failures of session.run, told apart. onnxruntime-node hands over only the
 * message text (the status code is lost in the binding), so the kind is read from it.
 * A batch passed the model's declared signature before it ran; what onnxruntime still
 * refuses is a value or a dynamic dimension the graph cannot take (a sequence longer than
 * a position table, a token id outside the vocabulary): the client's error, not ours.
 */

/** An input a batch carried, as the error names it. */
export interface RunInput {
  name: string;
  dims: readonly number[];
}

/**
 * The batch's inputs were refused by the model (kind invalid_argument). The lead's
 * poison-batch search can tell this apart from other failures and rerun the batch split.
 */
export class ModelInputError extends InferError {
  constructor(
    message: string,
    /** onnxruntime's reason, without source locations. */
    readonly detail: string,
  ) {
    super('invalid_argument', message);
    this.name = 'ModelInputError';
  }
}

/** Messages of onnxruntime's input checks before the graph runs. */
const INPUT_CHECK = /^(Got invalid dimensions for input|Invalid rank for input|Unexpected input data type|Invalid Feed Input Name|Input .* is missing)/;

/** Kernel failures that come from input values or dimensions (shape inference, broadcasting, indices). */
const KERNEL_INPUT_FAULT = new RegExp(
  [
    'broadcast', 'out of (?:data )?bounds', 'must be within', 'out of range', 'invalid dimension',
    'dimension mismatch', 'shape mismatch', 'cannot be reshaped', 'invalid input shape', 'incompatible dimensions',
    'mismatched? (?:input )?(?:shape|dimension)s?', 'input dimensions? (?:do|does) not match', 'invalid indices',
  ].join('|'),
  'i',
);

/** Failures that are ours however the request looked (memory, devices). */
const RESOURCE_FAULT = /Failed to allocate|bad_alloc|out of memory|CUDA|cuDNN|cublas/i;

const NODE_FAILURE = /^Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: ([\s\S]*)$/;

/**
 * onnxruntime's message without its source locations: `/onnxruntime_src/.../file.h:583`,
 * the C++ function signature and the failed condition of an ORT_ENFORCE go; the sentence
 * meant for the user stays.
 */
export function withoutSourceRefs(message: string): string {
  let s = message.replace(/\S*\.(?:h|hpp|cc|cpp|c):\d+\s*/g, '');
  s = s.replace(/^[^()\n]*\bonnxruntime::[^()\n]*\([^)\n]*\)\s*(?:const\s*)?/, '');
  s = s.replace(/^[^\n]*? was false\.\s*/, '');
  return s.replace(/\s+/g, ' ').trim();
}

/** How an error names a batch's inputs: `input_ids [1,129], attention_mask [1,129]`. */
function describeInputs(inputs: readonly RunInput[]): string {
  return inputs.map((t) => `${clip(t.name)} ${formatShape(t.dims)}`).join(', ');
}

/**
 * The InferError for a failed session.run: ModelInputError (400) when onnxruntime refused
 * the inputs, naming them; otherwise internal (500). Either way without source paths.
 */
export function ortRunError(message: string, inputs: readonly RunInput[]): InferError {
  const text = message.trim();
  const node = NODE_FAILURE.exec(text);
  const detail = withoutSourceRefs(node ? node[3] : text);
  const where = node ? `${node[1]} node '${clip(node[2])}': ` : '';
  if (!RESOURCE_FAULT.test(text) && (INPUT_CHECK.test(text) || (node !== null && KERNEL_INPUT_FAULT.test(detail)))) {
    return new ModelInputError(`the model cannot compute these inputs (${describeInputs(inputs)}): ${where}${detail}`, detail);
  }
  return new InferError('internal', `onnxruntime failed running the model: ${where}${detail}`);
}
