import assert from "node:assert/strict";
import { renderScaleChart } from "./scale_chart.ts";

Deno.test({
  name: "the scale chart draws a line per series with a point per size, scaled into the plot",
  permissions: "none",
  fn() {
    const point = (services: number, cliMs: number) => ({
      services,
      cliMs,
      cliRssBytes: services * 2 ** 14,
      floorMs: cliMs / 10,
      floorRssBytes: services * 2 ** 12,
      computeMs: cliMs / 20,
      fileBytes: services * 5000,
    });
    const svg = renderScaleChart([point(1000, 400), point(10_000, 3000), point(40_000, 12_000)]);
    assert.equal(svg.match(/<polyline /g)?.length, 5, "three time series and two memory series");
    assert.equal(svg.match(/<circle /g)?.length, 15);
    // Every point lies inside its panel's plot area.
    for (const [, x, y] of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)) {
      assert.ok(Number(y) >= 28 && Number(y) <= 200, `y ${y}`);
      assert.ok(Number(x) >= 56 && Number(x) <= 720, `x ${x}`);
    }
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  },
});
