/**
 * @module Teacher endpoints in the curator's configuration: `CURATOR_TEACHER_ENDPOINTS` (JSON, or a JSON file,
 * read as `@sovereign/teacher`'s endpoints-config reads it) names endpoints with their URL, default model and the
 * variable holding each key; `TEACHER_BASE_URL`, `TEACHER_MODEL` and `TEACHER_API_KEY` (or `OPENAI_API_KEY`) make
 * the endpoint `teacher`. Keys are read from the environment only, so the JSON can be shown and stored.
 */
import { DEFAULT_TEACHER_ENDPOINT } from "@sovereign/schemas";
import { endpointsWithKeys, TeacherEndpoints, type TeacherEndpointsFile } from "@sovereign/teacher";

/**
 * The endpoints of `CURATOR_TEACHER_ENDPOINTS`, each with the key its `apiKeyEnv` names, and `teacher` from
 * `TEACHER_BASE_URL`, `TEACHER_MODEL` and `TEACHER_API_KEY` (or `OPENAI_API_KEY`); and the problems, each
 * naming its variable.
 */
export function teacherEndpoints(
  e: {
    TEACHER_BASE_URL?: string | undefined;
    TEACHER_MODEL?: string | undefined;
    CURATOR_TEACHER_ENDPOINTS?: TeacherEndpointsFile | undefined;
  },
  env: Record<string, string | undefined>,
): { teachers: TeacherEndpoints; problems: string[] } {
  const { endpoints, problems } = endpointsWithKeys(
    "CURATOR_TEACHER_ENDPOINTS",
    e.CURATOR_TEACHER_ENDPOINTS,
    env,
  );
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
