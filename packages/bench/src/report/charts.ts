import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One point of a chart: a series (mode), an x value (concurrency) and a y value. */
export interface ChartPoint {
  series: string;
  x: number;
  y: number;
}

/**
 * Renders a line chart to a standalone SVG string with vega-lite (no browser needed).
 *
 * @example
 * const svg = await lineChartSvg({ title: 'Throughput', xTitle: 'clients', yTitle: 'bookings/s', points });
 */
export async function lineChartSvg(options: {
  title: string;
  xTitle: string;
  yTitle: string;
  points: readonly ChartPoint[];
  logX?: boolean;
}): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 520,
    height: 300,
    data: { values: options.points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: options.xTitle,
        scale: options.logX ? { type: 'log', base: 2 } : {},
      },
      y: { field: 'y', type: 'quantitative', title: options.yTitle },
      color: { field: 'series', type: 'nominal', title: 'mode' },
    },
  };
  return renderSvg(spec);
}

/** Grouped bar chart (category × series) as SVG. */
export async function barChartSvg(options: {
  title: string;
  xTitle: string;
  yTitle: string;
  bars: readonly { category: string; series: string; y: number }[];
}): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 520,
    height: 300,
    data: { values: options.bars.map((b) => ({ ...b })) },
    mark: 'bar',
    encoding: {
      x: { field: 'category', type: 'nominal', title: options.xTitle },
      xOffset: { field: 'series' },
      y: { field: 'y', type: 'quantitative', title: options.yTitle },
      color: { field: 'series', type: 'nominal', title: 'mode' },
    },
  };
  return renderSvg(spec);
}

/** Compiles a vega-lite spec and renders it headless to SVG. */
async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
