/**
 * @module Teacher endpoints in the curator's configuration: `CURATOR_TEACHER_ENDPOINTS` (JSON, or a JSON file)
 * names endpoints with their URL, default model and the variable holding each key; `TEACHER_BASE_URL`,
 * `TEACHER_MODEL` and `TEACHER_API_KEY` (or `OPENAI_API_KEY`) make the endpoint `teacher`. Keys are read from
 * the environment only, so the JSON can be shown and stored.
 */
import { readFileSync } from "node:fs";
import { DEFAULT_TEACHER_ENDPOINT, EndpointName } from "@sovereign/schemas";
import { type TeacherEndpointConfig, TeacherEndpoints } from "@sovereign/teacher";
import { z } from "zod";

/** A teacher endpoint's API root: http(s), and no credentials in it (they would show wherever the URL does). */
export const EndpointUrl = z.url({ protocol: /^https?$/ }).refine((url) => {
  // A value that is no URL at all already has its issue.
  if (!URL.canParse(url)) return true;
  const parsed = new URL(url);
  return !parsed.username && !parsed.password;
}, "put no credentials in the URL: the key goes in its own variable");

/**
 * Teacher endpoints by name, as `CURATOR_TEACHER_ENDPOINTS` gives them: each endpoint's API root, the model of
 * steps that name none, and the variable its key is read from (none: no key is sent). Keys never appear in this
 * value, so it can sit in a file or a compose file that is shown and stored.
 */
export const TeacherEndpointsFile = z.record(
  EndpointName,
  z.strictObject(
    {
      baseUrl: EndpointUrl,
      model: z.string().min(1).optional(),
      apiKeyEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "the name of an environment variable")
        .optional(),
    },
    {
      error: (issue) =>
        issue.code === "unrecognized_keys" && issue.keys.includes("apiKey")
          ? "a key is not written here: put it in an environment variable and name that in apiKeyEnv"
          : undefined,
    },
  ),
  {
    error: (issue) =>
      issue.code === "invalid_key" ? "an endpoint name is lowercase letters, digits, '-' and '_'" : undefined,
  },
);

/** `CURATOR_TEACHER_ENDPOINTS` as JSON when it starts with `{` or `[`, and otherwise as the path of a JSON file. */
export function readEndpoints(value: string, ctx: z.RefinementCtx): unknown {
  const inline = value.startsWith("{") || value.startsWith("[");
  let text = value;
  if (!inline) {
    try {
      text = readFileSync(value, "utf8");
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `cannot read ${value}: ${(error as Error).message}` });
      return z.NEVER;
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      message: `${inline ? "" : `${value}: `}not JSON: ${(error as Error).message}`,
    });
    return z.NEVER;
  }
}

/**
 * The endpoints of `CURATOR_TEACHER_ENDPOINTS`, each with the key its `apiKeyEnv` names, and `teacher` from
 * `TEACHER_BASE_URL`, `TEACHER_MODEL` and `TEACHER_API_KEY` (or `OPENAI_API_KEY`); and the problems, each
 * naming its variable.
 */
export function teacherEndpoints(
  e: {
    TEACHER_BASE_URL?: string | undefined;
    TEACHER_MODEL?: string | undefined;
    CURATOR_TEACHER_ENDPOINTS?: z.infer<typeof TeacherEndpointsFile> | undefined;
  },
  env: Record<string, string | undefined>,
): { teachers: TeacherEndpoints; problems: string[] } {
  const problems: string[] = [];
  const endpoints: Record<string, TeacherEndpointConfig> = {};
  for (const [name, endpoint] of Object.entries(e.CURATOR_TEACHER_ENDPOINTS ?? {})) {
    const apiKey = endpoint.apiKeyEnv ? env[endpoint.apiKeyEnv]?.trim() : undefined;
    if (endpoint.apiKeyEnv && !apiKey)
      problems.push(
        `CURATOR_TEACHER_ENDPOINTS.${name}.apiKeyEnv: ${endpoint.apiKeyEnv} is not set (leave apiKeyEnv out to send no key)`,
      );
    endpoints[name] = {
      baseUrl: endpoint.baseUrl,
      ...(endpoint.model ? { model: endpoint.model } : {}),
      ...(apiKey ? { apiKey } : {}),
    };
  }
  if (e.TEACHER_BASE_URL) {
    if (endpoints[DEFAULT_TEACHER_ENDPOINT])
      problems.push(
        `CURATOR_TEACHER_ENDPOINTS.${DEFAULT_TEACHER_ENDPOINT}: TEACHER_BASE_URL configures this endpoint too; configure it in one place`,
      );
    const apiKey = env.TEACHER_API_KEY?.trim() || env.OPENAI_API_KEY?.trim();
    endpoints[DEFAULT_TEACHER_ENDPOINT] = {
      baseUrl: e.TEACHER_BASE_URL,
      ...(e.TEACHER_MODEL ? { model: e.TEACHER_MODEL } : {}),
      ...(apiKey ? { apiKey } : {}),
    };
  } else if (e.TEACHER_MODEL) {
    problems.push(
      `TEACHER_MODEL: the model of endpoint ${DEFAULT_TEACHER_ENDPOINT}, which needs TEACHER_BASE_URL too`,
    );
  }
  return { teachers: new TeacherEndpoints(endpoints), problems };
}
