import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Type, sizes and font every report chart shares. */
export const CHART_CONFIG = {
  width: 640,
  height: 300,
  // DejaVu ships with every Debian image, so rsvg-convert and browsers draw the same text.
  font: 'DejaVu Sans, Verdana, sans-serif',
} as const;

/**
 * A Vega-Lite spec drawn as a standalone SVG, headless: vega-lite compiles it to Vega, and a
 * Vega View with no renderer attached writes the SVG (text sizes are estimated, no canvas).
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
