/** CSV as RFC 4180 writes it: comma-separated, fields with a comma, quote or line break quoted. */

/** Whether a record read so far is complete: an even number of quotes means no field is left open. */
export function csvRecordComplete(text: string): boolean {
  let quotes = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) quotes++;
  return quotes % 2 === 0;
}

/** Splits one CSV record (which may span lines inside quotes) into its fields. */
export function parseCsvRecord(text: string): string[] {
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (!text.includes('"')) return text.split(',');
  const fields: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      if (i < text.length && text[i] !== ',') throw new Error(`unexpected text after a quoted field at column ${i + 1}`);
      fields.push(value);
      i++;
    } else {
      const c = text.indexOf(',', i);
      const end = c < 0 ? text.length : c;
      fields.push(text.slice(i, end));
      i = end + 1;
    }
  }
  return fields;
}

/** One field as CSV text: quoted when it holds a comma, quote or line break. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
