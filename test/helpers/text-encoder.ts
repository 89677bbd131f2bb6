/** A text_encoder request body: `rows` rows of `seq` tokens (slow enough to keep a worker busy at seq 128). */
export function textRequest(rows: number, seq: number, params: Record<string, unknown> = {}, id?: string) {
  const ids = Array.from({ length: rows * seq }, (_, i) => (i * 31 + rows) % 8192);
  return {
    id,
    parameters: params,
    inputs: [
      { name: 'input_ids', datatype: 'INT64', shape: [rows, seq], data: ids },
      { name: 'attention_mask', datatype: 'INT64', shape: [rows, seq], data: ids.map(() => 1) },
    ],
  };
}
