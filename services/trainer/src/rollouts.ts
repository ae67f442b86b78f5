/**
 * @module Rollout scoring for engine ranks: each completion is matched to the prompt its frame named, and scored
 * by `@sovereign/rewards` against that prompt's reward model (constraint verifiers, legal answers, token F1,
 * or an LLM judge when one is configured). A multi-turn rollout (a run with tools) is scored on its final answer:
 * the tokens after the completion's last assistant header.
 */
import { ServiceError } from "@sovereign/http";
import { type Judge, type RewardDetail, scoreRollouts } from "@sovereign/rewards";
import type { DataPlane } from "./data-plane";
import { ASSISTANT_HEADER, lastTurnStart } from "./tools";

export type RolloutRequest = { prompt: string; promptIds: number[]; completionIds: number[] };

export class RolloutScorer {
  constructor(
    private readonly data: DataPlane,
    private readonly judge?: Judge,
  ) {}

  async score(
    runId: string,
    items: readonly RolloutRequest[],
    options: { multiTurn?: boolean } = {},
  ): Promise<{ rewards: number[]; details: RewardDetail[] }> {
    const prompts = this.data.data(runId, "prompts");
    const tokenizer = this.data.tokenizer(runId);
    const header = options.multiTurn ? tokenizer.encode(ASSISTANT_HEADER) : [];
    const rollouts = items.map((item, i) => {
      const prompt = prompts.prompt(item.prompt);
      if (!prompt)
        throw new ServiceError("BAD_REQUEST", `body.items.${i}.prompt: no prompt ${item.prompt} in this run`);
      if (!prompt.rewardModel)
        throw new ServiceError(
          "BAD_REQUEST",
          `body.items.${i}.prompt: prompt ${item.prompt} (sample ${prompt.sampleId}) has no reward model to score it by`,
        );
      const completionIds = options.multiTurn
        ? item.completionIds.slice(lastTurnStart(item.completionIds, header))
        : item.completionIds;
      return { rewardModel: prompt.rewardModel, completionIds, prompt: prompt.messages };
    });
    try {
      const scored = await scoreRollouts(rollouts, {
        tokenizer,
        ...(this.judge ? { judge: this.judge } : {}),
      });
      return { rewards: [...scored.rewards], details: scored.details };
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw new ServiceError("BAD_REQUEST", `cannot score these rollouts: ${(error as Error).message}`);
    }
  }
}
