/**
 * @module Teacher endpoints as an operator writes them in a service's environment (`CURATOR_TEACHER_ENDPOINTS`,
 * `TRAINER_TEACHER_ENDPOINTS`): JSON, or the path of a JSON file, naming each endpoint's URL, default model and
 * the variable its key is read from. Keys are read from the environment only, so the JSON can be shown and stored.
 */
import { readFileSync } from "node:fs";
import { EndpointName } from "@sovereign/schemas";
import { z } from "zod";
import type { TeacherEndpointConfig } from "./endpoints";

/** A teacher endpoint's API root: http(s), and no credentials in it (they would show wherever the URL does). */
export const EndpointUrl = z.url({ protocol: /^https?$/ }).refine((url) => {
  // A value that is no URL at all already has its issue.
  if (!URL.canParse(url)) return true;
  const parsed = new URL(url);
  return !parsed.username && !parsed.password;
}, "put no credentials in the URL: the key goes in its own variable");

/**
 * Teacher endpoints by name: each endpoint's API root, the model of specs that name none, and the variable its
 * key is read from (none: no key is sent). Keys never appear in this value.
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
export type TeacherEndpointsFile = z.infer<typeof TeacherEndpointsFile>;

/** The variable's value as JSON when it starts with `{` or `[`, and otherwise as the path of a JSON file. */
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

/** The schema of an endpoints variable in a service's configuration: absent or blank is no endpoints. */
export const TeacherEndpointsVariable = z
  .string()
  .trim()
  .optional()
  .transform((v, ctx) => (v ? readEndpoints(v, ctx) : undefined))
  .pipe(TeacherEndpointsFile.optional());

/**
 * Each endpoint of `file` with the key its `apiKeyEnv` names in `env`, and the problems, each naming
 * `variable.<endpoint>.apiKeyEnv`.
 */
export function endpointsWithKeys(
  variable: string,
  file: TeacherEndpointsFile | undefined,
  env: Record<string, string | undefined>,
): { endpoints: Record<string, TeacherEndpointConfig>; problems: string[] } {
  const problems: string[] = [];
  const endpoints: Record<string, TeacherEndpointConfig> = {};
  for (const [name, endpoint] of Object.entries(file ?? {})) {
    const apiKey = endpoint.apiKeyEnv ? env[endpoint.apiKeyEnv]?.trim() : undefined;
    if (endpoint.apiKeyEnv && !apiKey)
      problems.push(
        `${variable}.${name}.apiKeyEnv: ${endpoint.apiKeyEnv} is not set (leave apiKeyEnv out to send no key)`,
      );
    endpoints[name] = {
      baseUrl: endpoint.baseUrl,
      ...(endpoint.model ? { model: endpoint.model } : {}),
      ...(apiKey ? { apiKey } : {}),
    };
  }
  return { endpoints, problems };
}
