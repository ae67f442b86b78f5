/**
 * @module The `generate-constrained` step: constrained AutoIF with a teacher model. Each seed sample's first
 * user turn becomes a prompt with verifiable constraints; the teacher samples several answers in one request and
 * the first that is complete, passes every constraint and stays in Thai is kept — or, with a judge, the first of
 * those the judge scores high enough. Runs over a whole unit at once (teacher calls are asynchronous and
 * concurrent) and returns outcomes in input order, so a unit's output depends only on the teacher's answers —
 * which the persistent cache makes repeatable.
 */
import {
  type ComposedPrompt,
  type ComposeOptions,
  type Constraint,
  type ConstraintVerdict,
  composePrompt,
  type DiscardedProposal,
  hash32,
  mulberry32,
  type PromptLanguage,
  parseProposals,
  proposalMessages,
  type SeedQuery,
  verifyAll,
} from "@sovereign/constraints";
import type { ChatSample, GenerateConstrainedStep, StepStats } from "@sovereign/schemas";
import { type RejectedRecord, sampleContentHash } from "@sovereign/shards";
import { type CompletionChoice, dropTruncated } from "@sovereign/teacher";
import { containsCjk, scriptStats, thaiDigitsToArabic } from "@sovereign/thai";
import { type Ask, droppingTeacherError, TeacherPool, type TeacherTargets } from "./teacher";

export type SeedRecord = { sample: ChatSample; location: string };

/**
 * One seed's result from a teacher step: the new sample, the audit of why there is none, or both (a sample
 * rewritten in place, with its original in a `modified` audit).
 */
export type GeneratedOutcome =
  | { sample: ChatSample; audit?: RejectedRecord }
  | { sample?: undefined; audit: RejectedRecord };

export type GenerateOptions = {
  /** The configured endpoint of the teacher, the judge and the proposer. */
  targets: TeacherTargets;
  /** The persistent teacher cache: a rerun asks the server nothing it already answered. */
  cacheDir: string;
  /** Tokens earlier units of this run spent; `budgetTokens` bounds the sum. */
  tokensSpent?: number;
  /** This step's counter, as stats name it. */
  stats: StepStats;
};

/** What one candidate answer failed, for the audit of a seed with no passing answer. */
type CandidateFailure =
  | { index: number; truncated: true }
  | { index: number; failed: string[] }
  | { index: number; codeSwitching: true };

/** What the judge said of one passing candidate: a score, or a reply with no score 0–10 in it. */
type JudgedCandidate = { index: number; score: number } | { index: number; score: null; reply: string };

/**
 * The judge's system turn: rate the answer to the user's request from 0 to 10 for helpfulness, correctness and
 * natural Thai, and reply with the number only. In Thai, so the judge weighs the answer as a Thai reader would.
 */
export const JUDGE_PROMPT_TH =
  "คุณเป็นผู้ประเมินคุณภาพคำตอบ ให้คะแนนคำตอบต่อคำขอของผู้ใช้ตั้งแต่ 0 ถึง 10 " +
  "โดยพิจารณาว่าคำตอบเป็นประโยชน์ ถูกต้อง และใช้ภาษาไทยได้อย่างเป็นธรรมชาติเพียงใด " +
  "ตอบเป็นตัวเลขเพียงตัวเดียวเท่านั้น ไม่ต้องอธิบาย";

/** The judge's user turn: the request as the teacher was given it (every turn of the prompt) and the answer. */
function judgeRequest(prompt: readonly { content: string | null }[], answer: string): string {
  const request = prompt.map((m) => m.content ?? "").join("\n\n");
  return `คำขอของผู้ใช้:\n${request}\n\nคำตอบ:\n${answer}`;
}

/**
 * The first number from 0 to 10 in a judge's reply (Thai digits read as Arabic ones, decimals kept), or
 * undefined when there is none: a judge that wanders off into prose still scores when it names its number first.
 */
export function parseJudgeScore(reply: string): number | undefined {
  for (const match of thaiDigitsToArabic(reply).matchAll(/\d+(?:\.\d+)?/g)) {
    const value = Number(match[0]);
    if (value >= 0 && value <= 10) return value;
  }
  return undefined;
}

type Judge = { ask: Ask; model: string; threshold: number; maxTokens: number };
type Proposer = {
  ask: Ask;
  model: string;
  share: number;
  max: number;
  temperature: number;
  maxTokens: number;
};

export async function generateConstrained(
  step: GenerateConstrainedStep,
  seeds: readonly SeedRecord[],
  options: GenerateOptions,
): Promise<{ outcomes: GeneratedOutcome[]; tokens: number }> {
  const pool = new TeacherPool(step.teacher, options.targets, options);
  const ask = pool.ask("teacher");
  const judge: Judge | undefined = step.judge && {
    ask: pool.ask("judge"),
    model: pool.model("judge"),
    threshold: step.judge.threshold,
    maxTokens: step.judge.max_tokens,
  };
  const proposer: Proposer | undefined = step.propose && {
    ask: pool.ask("propose"),
    model: pool.model("propose"),
    share: step.propose.share,
    max: step.propose.max,
    temperature: step.propose.temperature,
    maxTokens: step.propose.max_tokens,
  };
  const outcomes = await mapConcurrently(seeds, step.teacher.concurrency, (seed) =>
    generateOne(step, seed, { ask, model: pool.model("teacher") }, judge, proposer, options.stats.step),
  );
  countOutcomes(outcomes, options.stats);
  return { outcomes, tokens: pool.tokens };
}

/** Stats of a teacher step from its outcomes: a sample out, a drop by reason, or a sample rewritten. */
export function countOutcomes(outcomes: readonly GeneratedOutcome[], stats: StepStats): void {
  for (const outcome of outcomes) {
    stats.in++;
    if (outcome.sample) {
      stats.out++;
      if (outcome.audit) stats.modified++;
    } else stats.dropped[outcome.audit.reason] = (stats.dropped[outcome.audit.reason] ?? 0) + 1;
  }
}

/**
 * `work` over every item with at most `concurrency` in flight, results in input order. The first error stops
 * new work and is thrown once the calls in flight have settled.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T);
      } catch (error) {
        stopped = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** What the proposer said for one seed, for the sample's meta. */
type ProposalRecord = { model: string; accepted: Constraint[]; discarded: DiscardedProposal[] };

/**
 * Constraints a model proposed for this seed, or none when this seed is not in the proposal share (decided by
 * the compose seed and the seed's id, so it is the same on every rerun and in every worker).
 */
async function proposeFor(
  proposer: Proposer,
  query: SeedQuery,
  step: GenerateConstrainedStep,
): Promise<ProposalRecord | undefined> {
  const rng = mulberry32(hash32(`propose\u0000${step.compose.seed}\u0000${query.id}`));
  if (rng() >= proposer.share) return undefined;
  const responseLanguage: PromptLanguage =
    step.compose.forceThaiAnswer === true && query.language === "en" ? "th" : query.language;
  const context = {
    query,
    responseLanguage,
    max: Math.min(proposer.max, step.compose.constraints?.max ?? 3),
    ...(step.compose.weights ? { weights: step.compose.weights } : {}),
  };
  const result = await proposer.ask({
    messages: proposalMessages(context),
    n: 1,
    temperature: proposer.temperature,
    max_tokens: proposer.maxTokens,
  });
  const reply = result.choices[0]?.text ?? "";
  return { model: proposer.model, ...parseProposals(reply, context) };
}

async function generateOne(
  step: GenerateConstrainedStep,
  seed: SeedRecord,
  teacher: { ask: Ask; model: string },
  judge: Judge | undefined,
  proposer: Proposer | undefined,
  stepName: string,
): Promise<GeneratedOutcome> {
  const { ask } = teacher;
  const drop = (reason: string, message: string, detail?: unknown): GeneratedOutcome => ({
    audit: {
      step: stepName,
      location: seed.location,
      source: seed.sample.source,
      action: "dropped",
      reason,
      message,
      ...(detail === undefined ? {} : { detail }),
      record: seed.sample,
    },
  });
  const query = seed.sample.messages.find((m) => m.role === "user")?.content;
  if (typeof query !== "string" || query.trim() === "")
    return drop("no-seed-query", "the sample has no user turn with text to use as the seed query");
  const seedQuery: SeedQuery = {
    id: seed.sample.id,
    text: query,
    language: scriptStats(query).share.thai >= 0.5 ? "th" : "en",
    source: seed.sample.source,
  };
  let proposal: ProposalRecord | undefined;
  if (proposer) {
    try {
      proposal = await proposeFor(proposer, seedQuery, step);
    } catch (error) {
      return drop("teacher-error", `proposer: ${droppingTeacherError(error)}`);
    }
  }
  const composed = composePrompt(seedQuery, step.compose as ComposeOptions, proposal?.accepted);

  let choices: CompletionChoice[];
  try {
    const result = await ask({
      messages: composed.messages,
      n: step.teacher.n,
      temperature: step.teacher.temperature,
      max_tokens: step.teacher.max_tokens,
      ...(step.teacher.top_p !== undefined ? { top_p: step.teacher.top_p } : {}),
    });
    choices = result.choices;
  } catch (error) {
    return drop("teacher-error", droppingTeacherError(error));
  }

  const failures: CandidateFailure[] = [];
  const passing: { choice: CompletionChoice; results: ConstraintVerdict[] }[] = [];
  const { kept, dropped } = dropTruncated(choices);
  for (const { choice } of dropped) failures.push({ index: choice.index, truncated: true });
  const thaiResponse = composed.meta.responseLanguage === "th";
  for (const choice of kept) {
    const verification = verifyAll(choice.text, composed.constraints);
    if (!verification.pass)
      failures.push({
        index: choice.index,
        failed: verification.results.filter((r) => !r.pass).map((r) => r.id),
      });
    else if (step.dropCodeSwitching && thaiResponse && containsCjk(choice.text))
      failures.push({ index: choice.index, codeSwitching: true });
    else passing.push({ choice, results: verification.results });
  }
  const keep = (
    candidate: { choice: CompletionChoice; results: ConstraintVerdict[] },
    judged?: { model: string; score: number; threshold: number },
  ): GeneratedOutcome => ({
    sample: generatedSample(seed.sample, composed, candidate.choice.text, {
      teacherModel: teacher.model,
      ...(proposal ? { proposal: describeProposal(proposal) } : {}),
      verification: candidate.results,
      candidates: choices.length,
      passed: passing.length,
      ...(judged ? { judge: judged } : {}),
    }),
  });
  const first = passing[0];
  if (!first) {
    failures.sort((a, b) => a.index - b.index);
    return drop(
      "no-passing-response",
      `none of ${choices.length} teacher answers passed: ${failures.map(describeFailure).join("; ")}`,
      {
        constraints: composed.constraints.map((c) => c.id),
        candidates: failures,
        ...(proposal ? { proposal: describeProposal(proposal) } : {}),
      },
    );
  }
  if (!judge) return keep(first);

  const judged: JudgedCandidate[] = [];
  for (const candidate of passing) {
    let reply: string;
    try {
      const result = await judge.ask({
        messages: [
          { role: "system", content: JUDGE_PROMPT_TH },
          { role: "user", content: judgeRequest(composed.messages, candidate.choice.text) },
        ],
        n: 1,
        temperature: 0,
        max_tokens: judge.maxTokens,
      });
      reply = result.choices[0]?.text ?? "";
    } catch (error) {
      return drop("teacher-error", `judge: ${droppingTeacherError(error)}`);
    }
    const score = parseJudgeScore(reply);
    if (score === undefined) {
      judged.push({ index: candidate.choice.index, score: null, reply: reply.slice(0, 200) });
      continue;
    }
    judged.push({ index: candidate.choice.index, score });
    if (score >= judge.threshold)
      return keep(candidate, { model: judge.model, score, threshold: judge.threshold });
  }
  return drop(
    "judge-below-threshold",
    `no passing answer reached the judge's threshold of ${judge.threshold}: ${judged.map(describeJudged).join("; ")}`,
    { threshold: judge.threshold, candidates: judged },
  );
}

/** A proposal as the sample's meta keeps it: which constraints came from the model, and what was discarded. */
function describeProposal(proposal: ProposalRecord) {
  return {
    model: proposal.model,
    used: proposal.accepted.length > 0,
    accepted: proposal.accepted.map((c) => c.id),
    discarded: proposal.discarded,
  };
}

function describeJudged(judged: JudgedCandidate): string {
  if (judged.score === null)
    return `#${judged.index} unparseable judge reply ${JSON.stringify(judged.reply)}`;
  return `#${judged.index} scored ${judged.score}`;
}

function describeFailure(failure: CandidateFailure): string {
  if ("truncated" in failure) return `#${failure.index} truncated`;
  if ("codeSwitching" in failure) return `#${failure.index} code-switching`;
  return `#${failure.index} failed ${failure.failed.join(", ")}`;
}

function generatedSample(
  seed: ChatSample,
  composed: ComposedPrompt,
  answer: string,
  result: {
    teacherModel: string;
    verification: ConstraintVerdict[];
    candidates: number;
    passed: number;
    judge?: { model: string; score: number; threshold: number };
    proposal?: ReturnType<typeof describeProposal>;
  },
): ChatSample {
  const { seedId, templateId, placement, instructionLanguage, responseLanguage, phrasing } = composed.meta;
  const autoif = {
    constraints: composed.constraints,
    templateId,
    placement,
    instructionLanguage,
    responseLanguage,
    phrasing,
    ...result,
  };
  const sample: ChatSample = {
    id: seed.id,
    source: seed.source,
    messages: [...composed.messages, { role: "assistant", content: answer }],
    tools: null,
    // Through JSON, so the meta holds only what a shard can store (no undefined members).
    meta: { ...seed.meta, seedId, autoif: JSON.parse(JSON.stringify(autoif)) },
  };
  // A new conversation: the id follows its content, as for an input record without one.
  sample.id = sampleContentHash("chat", sample).slice(0, 32);
  return sample;
}
