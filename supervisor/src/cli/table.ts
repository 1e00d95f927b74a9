/** Left-aligned columns separated by two spaces, headed by `headers`. */
export function formatTable(headers: string[], rows: unknown[][]): string {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell)))),
  ];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Epoch milliseconds as a short local-independent UTC time, or '-' when unset. */
export function formatTime(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  return new Date(value)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
