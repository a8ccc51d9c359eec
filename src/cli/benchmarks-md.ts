// Benchmarks write their results into BENCHMARKS.md, each into its own marked section, with the
// command that produced them and the machine they ran on — so the numbers in the README can be traced.
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { writeFileAtomic } from '../io/atomic-file.js';

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

/** Replaces (or appends) the section `name` of BENCHMARKS.md at `path`. */
export async function writeBenchmarkSection(
  path: string,
  name: string,
  title: string,
  command: string,
  body: string,
): Promise<void> {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = [
    begin,
    `## ${title}`,
    '',
    `Command: \`${command}\``,
    `Machine: ${machineLine()}; run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    body.trim(),
    end,
  ].join('\n');
  let text = await readFile(path, 'utf8').catch(
    () => '# Benchmarks\n\nEach section is written by the benchmark named in it; rerun the command to refresh it.\n',
  );
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  text =
    a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  await writeFileAtomic(path, text);
}

/** A Markdown table from a header row and rows. */
export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
