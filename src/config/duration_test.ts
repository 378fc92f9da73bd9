import { assertEquals, assertThrows } from "./test_helpers.ts";
import { formatGoDuration, parseGoDuration } from "./duration.ts";

const VALID: ReadonlyArray<readonly [string, number]> = [
  ["30s", 30_000],
  ["1m30s", 90_000],
  ["500ms", 500],
  ["1h", 3_600_000],
  ["2.5s", 2_500],
  ["0", 0],
  ["0s", 0],
  ["+5s", 5_000],
  [".5s", 500],
  ["1h2m3s4ms", 3_723_004],
  ["1500us", 2],
  ["1500\u00b5s", 2],
  ["1500\u03bcs", 2],
  ["100us", 0],
  ["2000000ns", 2],
  ["1.5ms", 2],
];

for (const [text, ms] of VALID) {
  Deno.test({
    name: `parseGoDuration() reads "${text}" as ${ms} ms`,
    permissions: "none",
    fn() {
      assertEquals(parseGoDuration(text), ms);
    },
  });
}

const INVALID: ReadonlyArray<readonly [string, string]> = [
  ["-5s", "negative"],
  ["", "expected a duration"],
  ["soon", "expected a duration"],
  ["30", `like "30s"`],
  ["1.5", `like "1.5s"`],
  ["s", "expected a duration"],
  [".s", "expected a duration"],
  ["5 s", "expected a duration"],
  ["5d", "expected a duration"],
  ["3000000h", "too long"],
];

for (const [text, fragment] of INVALID) {
  Deno.test({
    name: `parseGoDuration() rejects "${text}"`,
    permissions: "none",
    fn() {
      assertThrows(() => parseGoDuration(text), Error, fragment);
    },
  });
}

Deno.test({
  name: "formatGoDuration() writes durations as Go's Duration.String() does",
  permissions: "none",
  fn() {
    const cases: [number, string][] = [
      [0, "0s"],
      [500, "500ms"],
      [1_500, "1.5s"],
      [30_000, "30s"],
      [90_000, "1m30s"],
      [15 * 60_000, "15m0s"],
      [3_600_000, "1h0m0s"],
      [86_400_000, "24h0m0s"],
    ];
    for (const [ms, text] of cases) {
      assertEquals(formatGoDuration(ms), text);
      assertEquals(parseGoDuration(text), ms);
    }
  },
});
