import { describe, expect, it } from "vitest";
import { canonicalJson, hasJsonForm, isSha256Hex, SHA256_HEX, sha256Hex } from "../src/hashing";

describe("canonicalJson", () => {
  it("does not depend on the order object keys were written in", () => {
    const a = { b: 1, a: 2, c: { z: true, y: null } };
    const b = { c: { y: null, z: true }, a: 2, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":2,"b":1,"c":{"y":null,"z":true}}');
  });

  it("sorts keys by UTF-16 code units, not by locale", () => {
    // "B" (0x42) < "a" (0x61) < "é" (0xe9) < "ก" (0x0e01) in code units.
    expect(canonicalJson({ ก: 1, é: 2, a: 3, B: 4 })).toBe('{"B":4,"a":3,"é":2,"ก":1}');
  });

  it("keeps array order and encodes nested arrays and objects without whitespace", () => {
    const value = { list: [3, 1, 2, [{ y: 2, x: 1 }, []], {}], empty: {}, s: "x" };
    expect(canonicalJson(value)).toBe('{"empty":{},"list":[3,1,2,[{"x":1,"y":2},[]],{}],"s":"x"}');
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it("leaves Thai text and emoji as they are (no \\u escapes)", () => {
    const thai = "สวัสดีครับ ภาษาไทย 🙏🏽";
    const out = canonicalJson({ text: thai, [thai]: "คีย์" });
    expect(out).toContain(thai);
    expect(out).not.toMatch(/\\u0e/i);
    expect(JSON.parse(out)).toEqual({ text: thai, [thai]: "คีย์" });
  });

  it("encodes scalars as JSON does", () => {
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson(true)).toBe("true");
    expect(canonicalJson(false)).toBe("false");
    expect(canonicalJson(0)).toBe("0");
    expect(canonicalJson(-1.5)).toBe("-1.5");
    expect(canonicalJson(1e21)).toBe("1e+21");
    expect(canonicalJson('quote " and \n newline')).toBe(JSON.stringify('quote " and \n newline'));
  });

  it("omits undefined object members and writes undefined array items as null", () => {
    expect(canonicalJson({ a: 1, b: undefined, c: { d: undefined } })).toBe('{"a":1,"c":{}}');
    expect(canonicalJson([1, undefined, 3])).toBe("[1,null,3]");
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it("refuses NaN with the path of the value", () => {
    expect(() => canonicalJson({ a: { b: [1, Number.NaN] } })).toThrow(TypeError);
    expect(() => canonicalJson({ a: { b: [1, Number.NaN] } })).toThrow("$.a.b[1]");
    expect(() => canonicalJson({ a: { b: [1, Number.NaN] } })).toThrow(/NaN/);
  });

  it("refuses Infinity and -Infinity with the path of the value", () => {
    expect(() => canonicalJson({ score: Number.POSITIVE_INFINITY })).toThrow("$.score");
    expect(() => canonicalJson([{ x: Number.NEGATIVE_INFINITY }])).toThrow("$[0].x");
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow(/Infinity/);
  });

  it("refuses bigint and functions with the path of the value", () => {
    expect(() => canonicalJson({ meta: { n: 10n } })).toThrow(TypeError);
    expect(() => canonicalJson({ meta: { n: 10n } })).toThrow("$.meta.n");
    expect(() => canonicalJson({ meta: { n: 10n } })).toThrow(/bigint/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow("$.f");
  });

  it("hasJsonForm tells, without building the text, whether canonicalJson takes a value", () => {
    const values: unknown[] = [
      { a: [1, "ข", null, true, undefined, { b: -0, c: 1e21 }], d: undefined, e: new Date(0) },
      { a: [1, Number.NaN] },
      { a: { b: Number.NEGATIVE_INFINITY } },
      [() => 1],
      { s: Symbol("s") },
      { n: 1n },
      new Date(Number.NaN),
    ];
    for (const value of values) {
      const takes = (() => {
        try {
          canonicalJson(value);
          return true;
        } catch {
          return false;
        }
      })();
      expect(hasJsonForm(value)).toBe(takes);
    }
    expect(values.map(hasJsonForm)).toEqual([true, false, false, false, false, false, false]);
    expect(() => canonicalJson({ x: Number.NaN }, "$.tools")).toThrow("$.tools.x: NaN has no JSON form");
  });
});

describe("sha256Hex", () => {
  it("hashes strings as UTF-8 and bytes as they are", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(sha256Hex("abc"));
    expect(sha256Hex(new TextEncoder().encode("ภาษาไทย"))).toBe(sha256Hex("ภาษาไทย"));
  });

  it("isSha256Hex accepts only 64 lowercase hex digits", () => {
    const h = sha256Hex("x");
    expect(isSha256Hex(h)).toBe(true);
    expect(SHA256_HEX.test(h)).toBe(true);
    expect(isSha256Hex(h.toUpperCase())).toBe(false);
    expect(isSha256Hex(h.slice(1))).toBe(false);
    expect(isSha256Hex(`${h}0`)).toBe(false);
    expect(isSha256Hex(`${h.slice(0, 63)}g`)).toBe(false);
  });
});
