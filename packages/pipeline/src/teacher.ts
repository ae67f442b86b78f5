/**
 * @module The teacher models one step talks to: a client per (server, model), sharing the persistent cache, the
 * step's concurrency and one token budget across them, so a judge or a proposer on another server still counts
 * toward the run's cap. Also fills a step's endpoint from the environment when the spec leaves it out.
 */
import type { PipelineSpec, TeacherEndpoint } from "@sovereign/schemas";
import { isTeacherStep } from "@sovereign/schemas";
import {
  BudgetExceededError,
  type CompletionRequest,
  type CompletionResult,
  TeacherClient,
  TeacherRequestError,
  TeacherResponseError,
  TeacherRetriesExhaustedError,
} from "@sovereign/teacher";

export type Ask = (request: CompletionRequest) => Promise<CompletionResult>;

export class TeacherPool {
  /** Tokens this pool's clients spent on new requests (cached answers are free). */
  tokens = 0;
  readonly model: string;
  private readonly clients = new Map<string, TeacherClient>();
  private readonly budget: number | undefined;

  constructor(
    private readonly endpoint: TeacherEndpoint,
    private readonly options: { cacheDir: string; tokensSpent?: number },
  ) {
    if (!endpoint.baseUrl || !endpoint.model)
      throw new Error(
        "the teacher's baseUrl and model are not set: name them in the step or set TEACHER_BASE_URL and TEACHER_MODEL",
      );
    this.model = endpoint.model;
    this.budget =
      endpoint.budgetTokens !== undefined
        ? Math.max(0, endpoint.budgetTokens - (options.tokensSpent ?? 0))
        : undefined;
  }

  /** Completions from `model` at `baseUrl` (the step's teacher by default), within the shared budget. */
  ask(baseUrl?: string, model?: string): Ask {
    const url = (baseUrl ?? (this.endpoint.baseUrl as string)).replace(/\/+$/, "");
    const name = model ?? this.model;
    const key = `${url}\u0000${name}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new TeacherClient({
        baseUrl: url,
        model: name,
        concurrency: this.endpoint.concurrency,
        cache: this.options.cacheDir,
        ...(this.endpoint.timeoutMs !== undefined ? { timeoutMs: this.endpoint.timeoutMs } : {}),
        ...(this.endpoint.retries !== undefined ? { retries: this.endpoint.retries } : {}),
        ...(this.budget !== undefined ? { budget: this.budget } : {}),
        onUsage: (event) => {
          if (!event.cached) this.tokens += event.usage.totalTokens;
        },
      });
      this.clients.set(key, client);
    }
    const target = client;
    return (request) => {
      // Each client checks only its own spending, so with several the pool checks their sum before every call
      // (a cached answer then fails too, but the run stops at its next new request anyway).
      if (this.clients.size > 1 && this.budget !== undefined && this.tokens >= this.budget)
        return Promise.reject(new BudgetExceededError(this.budget, this.tokens));
      return target.complete(request);
    };
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

/**
 * The spec with each teacher step's missing `baseUrl` and `model` taken from `TEACHER_BASE_URL` and
 * `TEACHER_MODEL`, and the problems left (a field still unset), each with its path.
 */
export function resolveTeacherEndpoints(
  spec: PipelineSpec,
  env: Record<string, string | undefined> = process.env,
): { spec: PipelineSpec; problems: { path: string; message: string }[] } {
  const problems: { path: string; message: string }[] = [];
  const steps = spec.steps.map((step, i) => {
    if (!isTeacherStep(step)) return step;
    const baseUrl = step.teacher.baseUrl ?? (env.TEACHER_BASE_URL || undefined);
    const model = step.teacher.model ?? (env.TEACHER_MODEL || undefined);
    if (!baseUrl)
      problems.push({
        path: `steps.${i}.teacher.baseUrl`,
        message: "not in the spec, and TEACHER_BASE_URL is not set",
      });
    else if (!URL.canParse(baseUrl))
      problems.push({
        path: `steps.${i}.teacher.baseUrl`,
        message: `TEACHER_BASE_URL is not a URL: ${JSON.stringify(baseUrl)}`,
      });
    if (!model)
      problems.push({
        path: `steps.${i}.teacher.model`,
        message: "not in the spec, and TEACHER_MODEL is not set",
      });
    return { ...step, teacher: { ...step.teacher, baseUrl, model } };
  });
  return { spec: { ...spec, steps } as PipelineSpec, problems };
}
