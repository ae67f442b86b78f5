/**
 * @module The teacher models one step talks to: a client per (endpoint, model), sharing the persistent cache,
 * the step's concurrency and one token budget across them, so a judge or a proposer on another endpoint still
 * counts toward the run's cap. Endpoints are named in the spec and configured by the operator: the URL and key
 * of every request come from that configuration, never from the spec.
 */
import {
  DEFAULT_TEACHER_ENDPOINT,
  isTeacherStep,
  type PipelineSpec,
  type TeacherEndpoint,
  type TeacherStep,
} from "@sovereign/schemas";
import {
  BudgetExceededError,
  type CompletionRequest,
  type CompletionResult,
  normalizeBaseUrl,
  TeacherClient,
  TeacherEndpoints,
  TeacherRequestError,
  TeacherResponseError,
  TeacherRetriesExhaustedError,
  type TeacherTarget,
} from "@sovereign/teacher";

export type Ask = (request: CompletionRequest) => Promise<CompletionResult>;

/** The configured endpoint (URL, model, key) of each role of a teacher step. */
export type TeacherTargets = { teacher: TeacherTarget; judge?: TeacherTarget; propose?: TeacherTarget };
export type TeacherRole = keyof TeacherTargets;

export class TeacherPool {
  /** Tokens this pool's clients spent on new requests (cached answers are free). */
  tokens = 0;
  private readonly clients = new Map<string, TeacherClient>();
  private readonly budget: number | undefined;

  constructor(
    private readonly settings: TeacherEndpoint,
    private readonly targets: TeacherTargets,
    private readonly options: { cacheDir: string; tokensSpent?: number },
  ) {
    this.budget =
      settings.budgetTokens !== undefined
        ? Math.max(0, settings.budgetTokens - (options.tokensSpent ?? 0))
        : undefined;
  }

  /** The model a role asks. */
  model(role: TeacherRole): string {
    return this.target(role).model;
  }

  /** Completions from a role's endpoint and model, within the shared budget. */
  ask(role: TeacherRole): Ask {
    const target = this.target(role);
    const key = `${target.endpoint}\u0000${target.model}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new TeacherClient({
        baseUrl: target.baseUrl,
        model: target.model,
        // The endpoint's own key, or none: never one from the environment meant for another endpoint.
        apiKey: target.apiKey,
        concurrency: this.settings.concurrency,
        cache: this.options.cacheDir,
        ...(this.settings.timeoutMs !== undefined ? { timeoutMs: this.settings.timeoutMs } : {}),
        ...(this.settings.retries !== undefined ? { retries: this.settings.retries } : {}),
        ...(this.budget !== undefined ? { budget: this.budget } : {}),
        onUsage: (event) => {
          if (!event.cached) this.tokens += event.usage.totalTokens;
        },
      });
      this.clients.set(key, client);
    }
    const chosen = client;
    return (request) => {
      // Each client checks only its own spending, so with several the pool checks their sum before every call
      // (a cached answer then fails too, but the run stops at its next new request anyway).
      if (this.clients.size > 1 && this.budget !== undefined && this.tokens >= this.budget)
        return Promise.reject(new BudgetExceededError(this.budget, this.tokens));
      return chosen.complete(request);
    };
  }

  private target(role: TeacherRole): TeacherTarget {
    const target = this.targets[role];
    if (!target) throw new Error(`the step's ${role} has no endpoint resolved for it`);
    return target;
  }
}

/** Drops that are the teacher's fault, not the run's: the record is dropped, the run goes on. */
const TEACHER_ERRORS = [TeacherRequestError, TeacherResponseError, TeacherRetriesExhaustedError];

/** The message of a teacher error that drops the record; anything else (a spent budget included) is rethrown. */
export function droppingTeacherError(error: unknown): string {
  // A spent budget is the run's limit, not this record's fault: the run stops, and a rerun resumes from the cache.
  if (error instanceof BudgetExceededError) throw error;
  if (TEACHER_ERRORS.some((type) => error instanceof type)) return (error as Error).message;
  throw error;
}

type Problem = { path: string; message: string };
type Choice = { endpoint?: string | undefined; model?: string | undefined; endpointUrl?: string | undefined };

/**
 * The spec with each teacher step's endpoints, models and the endpoints' URLs filled in from the configured
 * endpoints (the teacher's endpoint is `teacher` unless named; a judge's or proposer's is the teacher's unless
 * named), and the problems, each with its path: an endpoint not configured, a model named nowhere, or a recorded
 * `endpointUrl` that is not where the endpoint is configured now.
 */
export function resolveTeacherEndpoints(
  spec: PipelineSpec,
  endpoints: TeacherEndpoints,
): { spec: PipelineSpec; problems: Problem[] } {
  const problems: Problem[] = [];
  const steps = spec.steps.map((step, i) => {
    if (!isTeacherStep(step)) return step;
    const teacher = resolveChoice(step.teacher, undefined, `steps.${i}.teacher`, endpoints, problems);
    if (step.type === "render-thai") return { ...step, teacher };
    const on = { endpoint: teacher.endpoint, model: teacher.model };
    return {
      ...step,
      teacher,
      ...(step.judge
        ? { judge: resolveChoice(step.judge, on, `steps.${i}.judge`, endpoints, problems) }
        : {}),
      ...(step.propose
        ? { propose: resolveChoice(step.propose, on, `steps.${i}.propose`, endpoints, problems) }
        : {}),
    };
  });
  return { spec: { ...spec, steps } as PipelineSpec, problems };
}

function resolveChoice<T extends Choice>(
  choice: T,
  teacher: { endpoint: string | undefined; model: string | undefined } | undefined,
  path: string,
  endpoints: TeacherEndpoints,
  problems: Problem[],
): T {
  const name = choice.endpoint ?? teacher?.endpoint ?? DEFAULT_TEACHER_ENDPOINT;
  const configured = endpoints.get(name);
  if (!configured) {
    problems.push({
      path: `${path}.endpoint`,
      message: endpoints.names.length
        ? `no endpoint named ${JSON.stringify(name)} is configured (configured: ${endpoints.names.join(", ")})`
        : `no teacher endpoint is configured, so ${JSON.stringify(name)} is unknown: set TEACHER_BASE_URL (endpoint ${DEFAULT_TEACHER_ENDPOINT}) or CURATOR_TEACHER_ENDPOINTS`,
    });
    return { ...choice, endpoint: name };
  }
  const model = choice.model ?? (teacher && name === teacher.endpoint ? teacher.model : configured.model);
  if (!model)
    problems.push({
      path: `${path}.model`,
      message: `not in the spec, and endpoint ${name} has no model configured${name === DEFAULT_TEACHER_ENDPOINT ? " (TEACHER_MODEL)" : ""}`,
    });
  if (choice.endpointUrl !== undefined && normalizeBaseUrl(choice.endpointUrl) !== configured.baseUrl)
    problems.push({
      path: `${path}.endpointUrl`,
      message:
        `the spec records endpoint ${name} at ${choice.endpointUrl}, but it is configured at ${configured.baseUrl} ` +
        `here: configure ${name} with the recorded URL, or queue a new run (a spec leaves endpointUrl out)`,
    });
  return { ...choice, endpoint: name, ...(model ? { model } : {}), endpointUrl: configured.baseUrl };
}

/**
 * The configured URL, model and key of each role of a run's teacher step, checked against what its spec
 * records; a step whose endpoints are unknown here, or configured at other URLs, fails naming the field.
 */
export function teacherTargets(
  spec: PipelineSpec,
  step: TeacherStep,
  endpoints: TeacherEndpoints | undefined,
): TeacherTargets {
  const index = spec.steps.indexOf(step);
  const resolved = resolveTeacherEndpoints(spec, endpoints ?? new TeacherEndpoints());
  if (resolved.problems.length)
    throw new Error(
      `the run's teacher endpoints do not match this worker's configuration:\n${resolved.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`,
    );
  const filled = resolved.spec.steps[index] as TeacherStep;
  // Resolved without problems: every endpoint is configured and every model named.
  const target = (choice: Choice): TeacherTarget =>
    endpoints?.target(choice.endpoint as string, choice.model as string) as TeacherTarget;
  return {
    teacher: target(filled.teacher),
    ...(filled.type === "generate-constrained" && filled.judge ? { judge: target(filled.judge) } : {}),
    ...(filled.type === "generate-constrained" && filled.propose ? { propose: target(filled.propose) } : {}),
  };
}
