import { assertEquals, assertThrows } from "./test_helpers.ts";
import { ConfigError } from "./errors.ts";
import { parseFeatureGateString, parseGoBool, readFeatureGates } from "./feature_gates.ts";

const FLAG = { file: "", field: "--feature-gates" };
const FILE = { file: "x.yaml", field: "featureGates", line: 3, column: 3 };

function test(name: string, fn: () => void): void {
  Deno.test({ name, permissions: "none", fn });
}

test("parseGoBool() accepts exactly the spellings of Go's strconv.ParseBool", () => {
  for (const text of ["1", "t", "T", "TRUE", "true", "True"]) assertEquals(parseGoBool(text), true);
  for (const text of ["0", "f", "F", "FALSE", "false", "False"]) {
    assertEquals(parseGoBool(text), false);
  }
  for (const text of ["yes", "no", "", "tRUE"]) assertEquals(parseGoBool(text), undefined);
});

test("parseFeatureGateString() reads SupportIPVSProxyMode=true and comma lists", () => {
  assertEquals(parseFeatureGateString("SupportIPVSProxyMode=true", FLAG), {
    SupportIPVSProxyMode: true,
  });
  assertEquals(parseFeatureGateString(" A=true , B=false,", FLAG), { A: true, B: false });
  assertEquals(parseFeatureGateString("", FLAG), {});
});

test("parseFeatureGateString() rejects items without a boolean value or with bad names", () => {
  for (const text of ["SupportIPVSProxyMode", "A=yes", "=true", "A B=true"]) {
    const error = assertThrows(
      () => parseFeatureGateString(text, FLAG),
      ConfigError,
      "command line: cannot parse '--feature-gates'",
    );
    assertEquals(error.value, text);
  }
});

test("readFeatureGates() reads a map of booleans, the string form, or nothing", () => {
  assertEquals(readFeatureGates({ SupportIPVSProxyMode: true }, FILE), {
    SupportIPVSProxyMode: true,
  });
  assertEquals(readFeatureGates("SupportIPVSProxyMode=true", FILE), { SupportIPVSProxyMode: true });
  assertEquals(readFeatureGates(null, FILE), {});
});

test("readFeatureGates() names the gate whose value is not a boolean", () => {
  const error = assertThrows(
    () => readFeatureGates({ SupportIPVSProxyMode: "on" }, FILE),
    ConfigError,
    "x.yaml:3:3: cannot parse 'featureGates.SupportIPVSProxyMode'",
    'got "on"',
  );
  assertEquals(error.field, "featureGates.SupportIPVSProxyMode");
  assertThrows(() => readFeatureGates(5, FILE), ConfigError, "expected a map");
});
