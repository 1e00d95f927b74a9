/**
 * Generated regions inside hand-written Markdown. A region is everything between
 *
 *   <!-- BEGIN GENERATED name: edit the source, then run `<command>` -->
 *   <!-- END GENERATED name -->
 *
 * so the prose around it stays hand-written while the tables inside come from the code.
 */
import { readFile, writeFile } from 'node:fs/promises';

const begin = (name: string) => new RegExp(`<!-- BEGIN GENERATED ${name}[^>]*-->\\n`);
const end = (name: string) => `<!-- END GENERATED ${name} -->`;

/** The text of region `name` in `doc`; throws when the markers are missing. */
export function readRegion(doc: string, name: string): string {
  const start = begin(name).exec(doc);
  const stop = doc.indexOf(end(name));
  if (!start || stop < start.index) throw new Error(`no generated region "${name}" in the document`);
  return doc.slice(start.index + start[0].length, stop);
}

/** `doc` with region `name` replaced by `content`. */
export function replaceRegion(doc: string, name: string, content: string): string {
  const start = begin(name).exec(doc);
  const stop = doc.indexOf(end(name));
  if (!start || stop < start.index) throw new Error(`no generated region "${name}" in the document`);
  return doc.slice(0, start.index + start[0].length) + content + doc.slice(stop);
}

/** Rewrites the regions of a file in place; returns true when something changed. */
export async function writeRegions(path: string, regions: Readonly<Record<string, string>>): Promise<boolean> {
  const before = await readFile(path, 'utf8');
  let after = before;
  for (const [name, content] of Object.entries(regions)) after = replaceRegion(after, name, content);
  if (after !== before) await writeFile(path, after);
  return after !== before;
}

/** Escapes text for a Markdown table cell. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A Markdown table; cells are escaped. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}
