import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { marked } from 'marked';

/** A chart of a report: its file name (without extension), caption and SVG. */
export interface ReportChart {
  name: string;
  caption: string;
  svg: string;
}

/**
 * Writes a run's results folder: `results.json` (raw), `report.md` (tables, charts linked as SVG files in
 * `charts/`) and `report.html` (self-contained: the same text with the charts inlined).
 */
export async function writeReport(options: {
  dir: string;
  title: string;
  results: unknown;
  markdown: string;
  charts: readonly ReportChart[];
}): Promise<void> {
  const { dir, charts } = options;
  await mkdir(join(dir, 'charts'), { recursive: true });
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(options.results, null, 2)}\n`);
  for (const chart of charts) await writeFile(join(dir, 'charts', `${chart.name}.svg`), chart.svg);
  const chartsMarkdown = charts.map((c) => `![${c.caption}](charts/${c.name}.svg)`).join('\n\n');
  await writeFile(join(dir, 'report.md'), `# ${options.title}\n\n${options.markdown}\n${chartsMarkdown}\n`);
  const body = await marked.parse(options.markdown);
  const figures = charts
    .map((c) => `<figure>${c.svg}<figcaption>${c.caption}</figcaption></figure>`)
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${options.title}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}figure{display:inline-block;margin:1em}</style></head>
<body><h1>${options.title}</h1>${body}${figures}</body></html>
`;
  await writeFile(join(dir, 'report.html'), html);
}
