/**
 * The scale benchmark's figures as an SVG chart: time and peak memory against the number of
 * Services, for the CLI end to end, the compute alone and the floor (read + `JSON.parse`).
 *
 * @module
 */

/** One measured cluster size. */
export interface ScalePoint {
  readonly services: number;
  readonly cliMs: number;
  readonly cliRssBytes: number;
  readonly floorMs: number;
  readonly floorRssBytes: number;
  readonly computeMs: number;
  readonly fileBytes: number;
}

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
}

const WIDTH = 360;
const HEIGHT = 240;
const MARGIN = { left: 56, right: 16, top: 28, bottom: 40 };

function niceMax(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value || 1));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** One panel: a line per series over the x values, with axes, ticks and a legend. */
function panel(
  x0: number,
  title: string,
  unit: string,
  xs: readonly number[],
  series: readonly Series[],
): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMax = Math.max(...xs);
  const yMax = niceMax(Math.max(...series.flatMap((s) => s.values)));
  const px = (x: number) => x0 + MARGIN.left + (x / xMax) * plotW;
  const py = (y: number) => MARGIN.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [
    `<text x="${x0 + WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">${title}</text>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(xMax)}" y2="${py(0)}" stroke="#333"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(yMax)}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    parts.push(
      `<text x="${px(0) - 6}" y="${py(y) + 4}" text-anchor="end">${Number(y.toFixed(2))}</text>`,
      `<line x1="${px(0)}" y1="${py(y)}" x2="${px(xMax)}" y2="${py(y)}" stroke="#ddd"/>`,
    );
  }
  for (const x of xs) {
    parts.push(
      `<text x="${px(x)}" y="${py(0) + 16}" text-anchor="middle">${x / 1000}k</text>`,
    );
  }
  parts.push(
    `<text x="${px(xMax / 2)}" y="${
      HEIGHT - 6
    }" text-anchor="middle">Services (x 10 endpoints)</text>`,
    `<text x="${x0 + 14}" y="${py(yMax / 2)}" text-anchor="middle" transform="rotate(-90 ${
      x0 + 14
    } ${py(yMax / 2)})">${unit}</text>`,
  );
  series.forEach((s, i) => {
    const points = xs.map((x, j) => `${px(x).toFixed(1)},${py(s.values[j]).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(" ")}"/>`,
      ...xs.map((x, j) =>
        `<circle cx="${px(x).toFixed(1)}" cy="${
          py(s.values[j]).toFixed(1)
        }" r="3" fill="${s.color}"/>`
      ),
      `<rect x="${px(0) + 10}" y="${
        MARGIN.top + 6 + i * 16
      }" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${px(0) + 24}" y="${MARGIN.top + 15 + i * 16}">${s.label}</text>`,
    );
  });
  return parts.join("\n");
}

/**
 * The chart: time on the left, memory on the right.
 *
 * @example
 * ```ts
 * import { renderScaleChart } from "./scale_chart.ts";
 * const svg = renderScaleChart([{ services: 1000, cliMs: 900, cliRssBytes: 2 ** 27,
 *   floorMs: 100, floorRssBytes: 2 ** 26, computeMs: 20, fileBytes: 2 ** 22 }]);
 * svg.startsWith("<svg"); // true
 * ```
 */
export function renderScaleChart(points: readonly ScalePoint[]): string {
  const xs = points.map((p) => p.services);
  const seconds = (ms: number) => ms / 1000;
  const mibs = (bytes: number) => bytes / 2 ** 20;
  const time = panel(0, "Wall time", "seconds", xs, [
    {
      label: "ipvs-proxy --dry-run --once",
      color: "#1f77b4",
      values: points.map((p) => seconds(p.cliMs)),
    },
    { label: "compute alone", color: "#2ca02c", values: points.map((p) => seconds(p.computeMs)) },
    {
      label: "floor: read + JSON.parse",
      color: "#999",
      values: points.map((p) => seconds(p.floorMs)),
    },
  ]);
  const memory = panel(WIDTH, "Peak RSS", "MiB", xs, [
    {
      label: "ipvs-proxy --dry-run --once",
      color: "#1f77b4",
      values: points.map((p) => mibs(p.cliRssBytes)),
    },
    {
      label: "floor: read + JSON.parse",
      color: "#999",
      values: points.map((p) => mibs(p.floorRssBytes)),
    },
  ]);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * WIDTH}" height="${HEIGHT}" ` +
    `font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n` +
    `${time}\n${memory}\n</svg>\n`;
}
