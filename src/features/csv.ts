/**
 * A small RFC 4180 CSV reader: a header row, comma-separated, fields optionally in double
 * quotes ("" inside quotes is a quote), LF or CRLF line ends. Returns columns of raw strings.
 */
export function parseCsv(text: string, file: string): { columns: string[]; cells: string[][] } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  let line = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // byte order mark
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      field = '';
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new Error(`${file}: line ${line}: a quoted field is not closed`);
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  if (rows.length === 0) throw new Error(`${file}: empty CSV file: expected a header row`);
  const [columns, ...cells] = rows;
  cells.forEach((r, k) => {
    if (r.length !== columns.length) {
      throw new Error(`${file}: data row ${k + 1} has ${r.length} fields, the header has ${columns.length}`);
    }
  });
  return { columns, cells };
}
