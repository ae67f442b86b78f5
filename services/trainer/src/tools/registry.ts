/**
 * @module The tools a policy may call during GRPO rollouts, by name: each has an OpenAI-format definition (its
 * arguments a JSON Schema, shown to the policy in the prompt's tools block and checked by `@sovereign/tool-use`'s
 * validator before it runs) and a function of its validated arguments that answers text.
 *
 * - `statute_search {query, law?, k?}`: the k (default 3, at most 5) best sections of the run's statute corpus
 *   for the query, by BM25 over Thai word segments, each as `<law> มาตรา <section>` and its text.
 * - `section_lookup {law, section}`: the text of one section, the law named exactly or by a part of its name.
 */
import type { ToolDefinition, ToolName } from "@sovereign/schemas";
import type { Section, StatuteIndex } from "./statutes";

export type Tool = {
  definition: ToolDefinition;
  /** The tool's answer for arguments its schema accepts; a problem the caller can fix throws ToolInputError. */
  run(args: Record<string, unknown>): string;
};

/** A call the tool cannot answer (no such law or section): the policy sees the message as the tool's error. */
export class ToolInputError extends Error {}

function heading(section: Section): string {
  return section.law ? `${section.law} มาตรา ${section.section}` : `มาตรา ${section.section}`;
}

export const DEFAULT_SEARCH_HITS = 3;
export const MAX_SEARCH_HITS = 5;

export function statuteSearch(index: StatuteIndex): Tool {
  return {
    definition: {
      type: "function",
      function: {
        name: "statute_search",
        description: "ค้นหามาตราในประมวลกฎหมายที่เกี่ยวข้องกับคำค้น (Search statute sections relevant to a query)",
        parameters: {
          type: "object",
          properties: {
            query: { type: "string", minLength: 1, description: "คำค้น" },
            law: { type: "string", minLength: 1, description: "ชื่อกฎหมาย (ไม่บังคับ)" },
            k: { type: "integer", minimum: 1, maximum: MAX_SEARCH_HITS, description: "จำนวนผลลัพธ์" },
          },
          required: ["query"],
          additionalProperties: false,
        },
      },
    },
    run(args) {
      const law = args.law as string | undefined;
      if (law !== undefined && index.matchLaw(law) === undefined)
        throw new ToolInputError(
          `no law ${JSON.stringify(law)} in the corpus (laws: ${index.laws.join(", ")})`,
        );
      const hits = index.search(
        args.query as string,
        (args.k as number | undefined) ?? DEFAULT_SEARCH_HITS,
        law,
      );
      if (hits.length === 0) return "ไม่พบมาตราที่เกี่ยวข้อง (no matching section)";
      return hits.map((hit) => `${heading(hit)}\n${hit.text}`).join("\n\n");
    },
  };
}

export function sectionLookup(index: StatuteIndex): Tool {
  return {
    definition: {
      type: "function",
      function: {
        name: "section_lookup",
        description: "ตัวบทของมาตราตามชื่อกฎหมายและเลขมาตรา (The text of a section, by law and section number)",
        parameters: {
          type: "object",
          properties: {
            law: { type: "string", minLength: 1, description: "ชื่อกฎหมาย" },
            section: {
              anyOf: [
                { type: "string", minLength: 1 },
                { type: "integer", minimum: 1 },
              ],
              description: "เลขมาตรา เช่น 420 หรือ 335 ทวิ",
            },
          },
          required: ["law", "section"],
          additionalProperties: false,
        },
      },
    },
    run(args) {
      const law = args.law as string;
      const section = args.section as string | number;
      if (index.matchLaw(law) === undefined)
        throw new ToolInputError(
          `no law ${JSON.stringify(law)} in the corpus (laws: ${index.laws.join(", ")})`,
        );
      const found = index.lookup(law, section);
      if (!found)
        throw new ToolInputError(`no section ${JSON.stringify(String(section))} of ${index.matchLaw(law)}`);
      return `${heading(found)}\n${found.text}`;
    },
  };
}

const FACTORIES: Record<ToolName, (index: StatuteIndex) => Tool> = {
  statute_search: statuteSearch,
  section_lookup: sectionLookup,
};

/** The named tools over one corpus, in the order named. */
export function createTools(names: readonly ToolName[], index: StatuteIndex): Map<string, Tool> {
  return new Map(names.map((name) => [name, FACTORIES[name](index)]));
}
