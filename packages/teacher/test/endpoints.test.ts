/** Named teacher endpoints: a target per name with that endpoint's key, and the keys shown nowhere. */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { TeacherEndpoints } from "../src/index";

const KEY = "sk-endpoint-5ecret";

describe("TeacherEndpoints", () => {
  const endpoints = new TeacherEndpoints({
    teacher: { baseUrl: "http://127.0.0.1:8000/v1/", model: "qwen", apiKey: KEY },
    judge: { baseUrl: "https://judge.example/v1" },
  });

  it("gives a client's target by name, the URL without trailing slashes and the key of that endpoint only", () => {
    expect(endpoints.names).toEqual(["judge", "teacher"]);
    expect(endpoints.target("teacher", "qwen-small")).toEqual({
      endpoint: "teacher",
      baseUrl: "http://127.0.0.1:8000/v1",
      model: "qwen-small",
      apiKey: KEY,
    });
    expect(endpoints.target("judge", "j")?.apiKey).toBeNull();
    expect(endpoints.target("other", "m")).toBeUndefined();
  });

  it("shows no key: not in get, JSON or inspect", () => {
    expect(endpoints.get("teacher")).toEqual({
      name: "teacher",
      baseUrl: "http://127.0.0.1:8000/v1",
      model: "qwen",
      hasApiKey: true,
    });
    expect(JSON.stringify(endpoints)).not.toContain(KEY);
    expect(JSON.stringify({ config: endpoints })).toContain("judge.example");
    expect(inspect(endpoints, { depth: 10, showHidden: true })).not.toContain(KEY);
  });

  it("refuses a URL that is not http(s), and credentials in the URL", () => {
    expect(() => new TeacherEndpoints({ a: { baseUrl: "file:///etc/passwd" } })).toThrow(
      "not an http(s) URL",
    );
    expect(() => new TeacherEndpoints({ a: { baseUrl: "http://u:p@x/v1" } })).toThrow("not in the URL");
  });
});
