/** A CSV table: the header and every row's cells (RFC 4180: quotes, doubled quotes, CRLF). */
export interface CsvTable {
  header: string[];
  rows: string[][];
}

/** Parses CSV text with a header row; throws an Error naming the line of any malformed row. */
export function parseCsv(text: string): CsvTable {
  const records: string[][] = [];
  const lines: number[] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRow = () => {
    row.push(cell);
    cell = '';
    // A blank line (one empty cell) is no row.
    if (!(row.length === 1 && row[0] === '')) {
      records.push(row);
      lines.push(rowLine);
    }
    row = [];
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (quoted) throw new Error(`line ${rowLine}: a quoted cell is not closed`);
  if (cell !== '' || row.length > 0) endRow();
  if (records.length === 0) throw new Error('the file is empty: it needs a header row');
  const [header, ...rows] = records;
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw new Error(`the header names column '${h}' twice`);
    seen.add(h);
  }
  rows.forEach((r, k) => {
    if (r.length !== header.length) throw new Error(`line ${lines[k + 1]}: ${r.length} cells where the header has ${header.length}`);
  });
  return { header, rows };
}
