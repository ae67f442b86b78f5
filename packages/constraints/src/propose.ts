/**
 * @module Constraint proposal: a model may suggest constraints for a seed query, but only as registered types
 * with parameters their schemas accept. The prompt lists the eligible types with their parameters and an
 * example; the reply is parsed strictly, and every proposal that is not a usable constraint is discarded with
 * a reason, so what the model got wrong is kept for review instead of silently dropped.
 */
import { z } from "zod";
import { BUILT_IN_PARAMS, mulberry32, type PromptLanguage, type SeedQuery } from "./compose";
import { compatible, getConstraint, parseConstraint, registry } from "./registry";
import type { Constraint } from "./types";

/** Why a proposal was not used. */
export type DiscardReason =
  | "not-json"
  | "not-a-constraint"
  | "unknown-type"
  | "excluded-type"
  | "invalid-params"
  | "wrong-language"
  | "conflict"
  | "over-limit";

export type DiscardedProposal = { proposal: unknown; reason: DiscardReason; message: string };

export type ProposalResult = { accepted: Constraint[]; discarded: DiscardedProposal[] };

export type ProposalContext = {
  query: SeedQuery;
  responseLanguage: PromptLanguage;
  /** Most constraints kept; later proposals are discarded as `over-limit`. */
  max: number;
  /** Constraint id → weight as for composing; a type weighted 0 is never accepted. */
  weights?: Record<string, number>;
};

/** Ids a response in `language` can be asked to meet, weighted above 0. */
export function eligibleTypes(language: PromptLanguage, weights?: Record<string, number>): string[] {
  return [...registry.values()]
    .filter((t) => t.languages[language] && (weights?.[t.id] ?? 1) > 0)
    .map((t) => t.id);
}

/**
 * The proposer's request: the eligible types, each with its parameters and an example instruction, and the
 * query. The reply must be a JSON array of `{"id", "params"}`; any prose around it is ignored.
 */
export function proposalMessages(context: ProposalContext): { role: "system" | "user"; content: string }[] {
  const { query, responseLanguage, max } = context;
  const types = eligibleTypes(responseLanguage, context.weights).map((id) => describeType(id, context));
  const answer = responseLanguage === "th" ? "Thai" : "English";
  return [
    {
      role: "system",
      content: [
        "You write verifiable formatting and content constraints for instruction-following training data.",
        `Given a user's request, propose 1 to ${max} constraints that suit it and that an ${answer} answer can meet together.`,
        "Use only these constraint types, with exactly the parameters listed (types: integer, number, string, string[]):",
        ...types,
        'Reply with a JSON array only, e.g. [{"id": "<type id>", "params": {...}}].',
      ].join("\n"),
    },
    { role: "user", content: query.text },
  ];
}

function describeType(id: string, context: ProposalContext): string {
  const type = getConstraint(id);
  const schema = z.toJSONSchema(type.params, { unrepresentable: "any", io: "input" }) as {
    properties?: Record<string, { type?: string; enum?: unknown[]; items?: { type?: string } }>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  const params = Object.entries(schema.properties ?? {}).map(([name, p]) => {
    const kind = p.enum
      ? p.enum.map((v) => JSON.stringify(v)).join("|")
      : p.type === "array"
        ? `${p.items?.type ?? "any"}[]`
        : (p.type ?? "any");
    return `${name}${required.has(name) ? "" : "?"}: ${kind}`;
  });
  const generator = BUILT_IN_PARAMS[id];
  const example = generator?.(mulberry32(1), {
    query: context.query,
    responseLanguage: context.responseLanguage,
    chosen: [],
  });
  const parsed = example === undefined ? undefined : parseConstraint({ id, params: example as never });
  const phrase = parsed?.ok ? ` e.g. "${type.describe.en[0]?.(parsed.constraint.params)}"` : "";
  return `- ${id} {${params.join(", ")}}${phrase}`;
}

/** The first JSON array in a reply (inside a code fence or not), or undefined when there is none that parses. */
function jsonArrayIn(reply: string): unknown[] | undefined {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(reply)?.[1];
  for (const candidate of [fenced, reply]) {
    if (candidate === undefined) continue;
    const start = candidate.indexOf("[");
    const end = candidate.lastIndexOf("]");
    if (start < 0 || end <= start) continue;
    try {
      const value = JSON.parse(candidate.slice(start, end + 1));
      if (Array.isArray(value)) return value;
    } catch {
      // Not JSON there; the unfenced reply is tried next.
    }
  }
  return undefined;
}

/**
 * Reads a proposer's reply: each entry must name a registered type the response language allows, with
 * parameters its schema accepts, compatible with the entries accepted before it, up to `max`.
 */
export function parseProposals(reply: string, context: ProposalContext): ProposalResult {
  const accepted: Constraint[] = [];
  const discarded: DiscardedProposal[] = [];
  const entries = jsonArrayIn(reply);
  if (!entries) {
    discarded.push({
      proposal: reply.slice(0, 500),
      reason: "not-json",
      message: "the reply holds no JSON array of constraints",
    });
    return { accepted, discarded };
  }
  const discard = (proposal: unknown, reason: DiscardReason, message: string) =>
    discarded.push({ proposal, reason, message });
  for (const entry of entries) {
    if (typeof entry !== "object" || entry === null || typeof (entry as { id?: unknown }).id !== "string") {
      discard(entry, "not-a-constraint", 'an entry must be an object with a string "id"');
      continue;
    }
    const { id, params } = entry as { id: string; params?: unknown };
    if (!registry.has(id)) {
      discard(entry, "unknown-type", `unknown constraint id "${id}"`);
      continue;
    }
    if ((context.weights?.[id] ?? 1) <= 0) {
      discard(entry, "excluded-type", `${id} is weighted 0 in this pipeline`);
      continue;
    }
    if (!getConstraint(id).languages[context.responseLanguage]) {
      discard(entry, "wrong-language", `${id} cannot be asked of a ${context.responseLanguage} response`);
      continue;
    }
    if (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params))) {
      discard(entry, "invalid-params", `${id}: params must be an object`);
      continue;
    }
    const parsed = parseConstraint({ id, params: (params ?? {}) as Record<string, unknown> });
    if (!parsed.ok) {
      discard(entry, "invalid-params", parsed.error);
      continue;
    }
    const repeatProblem = repeatMismatch(parsed.constraint, context.query, context.responseLanguage);
    if (repeatProblem) {
      discard(entry, "invalid-params", repeatProblem);
      continue;
    }
    const clash = accepted.find((other) => !compatible(other, parsed.constraint));
    if (clash) {
      discard(entry, "conflict", `${id} cannot be combined with ${clash.id}`);
      continue;
    }
    if (accepted.length >= context.max) {
      discard(entry, "over-limit", `only ${context.max} constraints are kept per prompt`);
      continue;
    }
    accepted.push(parsed.constraint);
  }
  return { accepted, discarded };
}

/** Repeating the request is only checkable against the request itself, word for word. */
function repeatMismatch(
  constraint: Constraint,
  query: SeedQuery,
  responseLanguage: PromptLanguage,
): string | undefined {
  if (constraint.id !== "combination:repeat_prompt") return undefined;
  if (query.language !== responseLanguage)
    return "combination:repeat_prompt: the request is not in the answer's language, so repeating it would break the answer";
  const { prompt_to_repeat } = constraint.params as { prompt_to_repeat: string };
  return prompt_to_repeat === query.text
    ? undefined
    : "combination:repeat_prompt: prompt_to_repeat must be the user's request word for word";
}
