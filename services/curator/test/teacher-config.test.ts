/**
 * Teacher endpoints from the environment: `TEACHER_BASE_URL` and its model and key make the endpoint `teacher`,
 * `CURATOR_TEACHER_ENDPOINTS` (JSON, or a JSON file) adds named ones whose keys come from the variables they
 * name, and a bad value fails at start naming the variable. No key shows in the configuration.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";

const KEY = "sk-teacher-5ecret";
const JUDGE_KEY = "sk-judge-5ecret";

describe("teacher endpoints configuration", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "curator-teacher-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes TEACHER_BASE_URL, TEACHER_MODEL and TEACHER_API_KEY (or OPENAI_API_KEY) the endpoint teacher", () => {
    const { teachers } = loadConfig({
      TEACHER_BASE_URL: "http://127.0.0.1:8000/v1/",
      TEACHER_MODEL: "qwen",
      TEACHER_API_KEY: KEY,
      OPENAI_API_KEY: "sk-other",
    });
    expect(teachers.target("teacher", "qwen")).toEqual({
      endpoint: "teacher",
      baseUrl: "http://127.0.0.1:8000/v1",
      model: "qwen",
      apiKey: KEY,
    });
    const openai = loadConfig({ TEACHER_BASE_URL: "http://127.0.0.1:8000/v1", OPENAI_API_KEY: KEY });
    expect(openai.teachers.target("teacher", "m")?.apiKey).toBe(KEY);
    expect(loadConfig({}).teachers.names).toEqual([]);
  });

  it("adds the endpoints of CURATOR_TEACHER_ENDPOINTS, as JSON or a file, each with the key its apiKeyEnv names", async () => {
    const endpoints = {
      judge: { baseUrl: "https://judge.example/v1", model: "judge-model", apiKeyEnv: "JUDGE_KEY" },
      local: { baseUrl: "http://127.0.0.1:9000/v1" },
    };
    const path = join(dir, "endpoints.json");
    await writeFile(path, JSON.stringify(endpoints));
    for (const value of [JSON.stringify(endpoints), path]) {
      const config = loadConfig({
        CURATOR_TEACHER_ENDPOINTS: value,
        JUDGE_KEY,
        TEACHER_BASE_URL: "http://127.0.0.1:8000/v1",
        TEACHER_API_KEY: KEY,
      });
      expect(config.teachers.names).toEqual(["judge", "local", "teacher"]);
      expect(config.teachers.target("judge", "judge-model")?.apiKey).toBe(JUDGE_KEY);
      // No apiKeyEnv: no key, and never the teacher's.
      expect(config.teachers.target("local", "m")?.apiKey).toBeNull();
      expect(config.teachers.get("judge")).toMatchObject({
        baseUrl: "https://judge.example/v1",
        model: "judge-model",
      });
      const shown = JSON.stringify(config);
      expect(shown).not.toContain(KEY);
      expect(shown).not.toContain(JUDGE_KEY);
    }
  });

  it("fails at start on a bad value, naming the variable", async () => {
    const fails = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(env)}`);
    };
    const endpoints = (value: unknown) => ({ CURATOR_TEACHER_ENDPOINTS: JSON.stringify(value) });
    expect(fails({ CURATOR_TEACHER_ENDPOINTS: "{not json" })).toContain(
      "CURATOR_TEACHER_ENDPOINTS: not JSON",
    );
    expect(fails({ CURATOR_TEACHER_ENDPOINTS: join(dir, "missing.json") })).toContain(
      `CURATOR_TEACHER_ENDPOINTS: cannot read ${join(dir, "missing.json")}`,
    );
    expect(fails(endpoints({ judge: { baseUrl: "not a url" } }))).toContain(
      "CURATOR_TEACHER_ENDPOINTS.judge.baseUrl",
    );
    expect(fails(endpoints({ judge: { baseUrl: "file:///etc/passwd" } }))).toContain(
      "CURATOR_TEACHER_ENDPOINTS.judge.baseUrl",
    );
    expect(fails(endpoints({ judge: { baseUrl: "http://u:p@x/v1" } }))).toContain(
      "CURATOR_TEACHER_ENDPOINTS.judge.baseUrl: put no credentials in the URL",
    );
    expect(fails(endpoints({ judge: { baseUrl: "http://x/v1", apiKey: KEY } }))).toContain(
      "CURATOR_TEACHER_ENDPOINTS.judge: a key is not written here: put it in an environment variable and name that in apiKeyEnv",
    );
    expect(fails(endpoints({ "Big Name": { baseUrl: "http://x/v1" } }))).toContain(
      "CURATOR_TEACHER_ENDPOINTS.Big Name: an endpoint name is lowercase letters, digits, '-' and '_'",
    );
    expect(fails(endpoints({ judge: { baseUrl: "http://x/v1", apiKeyEnv: "JUDGE_KEY" } }))).toContain(
      "CURATOR_TEACHER_ENDPOINTS.judge.apiKeyEnv: JUDGE_KEY is not set",
    );
    expect(
      fails({ ...endpoints({ teacher: { baseUrl: "http://x/v1" } }), TEACHER_BASE_URL: "http://y/v1" }),
    ).toContain("CURATOR_TEACHER_ENDPOINTS.teacher: TEACHER_BASE_URL configures this endpoint too");
    expect(fails({ TEACHER_MODEL: "qwen" })).toContain(
      "TEACHER_MODEL: the model of endpoint teacher, which needs TEACHER_BASE_URL",
    );
    expect(fails({ TEACHER_BASE_URL: "http://u:p@x/v1" })).toContain(
      "TEACHER_BASE_URL: put no credentials in the URL",
    );
  });
});
