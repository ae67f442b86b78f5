/**
 * @module Rollout scoring for engine ranks: each completion is matched to the prompt its frame named, and scored
 * by `@sovereign/rewards` against that prompt's reward model (constraint verifiers, legal answers, token F1,
 * or an LLM judge when one is configured).
 */
import { ServiceError } from "@sovereign/http";
import { type Judge, type RewardDetail, scoreRollouts } from "@sovereign/rewards";
import { loadQwen3Tokenizer } from "@sovereign/tokenizer";
import type { DataPlane } from "./data-plane";

export type RolloutRequest = { prompt: string; promptIds: number[]; completionIds: number[] };

export class RolloutScorer {
  constructor(
    private readonly data: DataPlane,
    private readonly judge?: Judge,
  ) {}

  async score(
    runId: string,
    items: readonly RolloutRequest[],
  ): Promise<{ rewards: number[]; details: RewardDetail[] }> {
    const prompts = this.data.data(runId, "prompts");
    const rollouts = items.map((item, i) => {
      const prompt = prompts.prompt(item.prompt);
      if (!prompt)
        throw new ServiceError("BAD_REQUEST", `body.items.${i}.prompt: no prompt ${item.prompt} in this run`);
      if (!prompt.rewardModel)
        throw new ServiceError(
          "BAD_REQUEST",
          `body.items.${i}.prompt: prompt ${item.prompt} (sample ${prompt.sampleId}) has no reward model to score it by`,
        );
      return { rewardModel: prompt.rewardModel, completionIds: item.completionIds, prompt: prompt.messages };
    });
    try {
      const scored = await scoreRollouts(rollouts, {
        tokenizer: await loadQwen3Tokenizer(),
        ...(this.judge ? { judge: this.judge } : {}),
      });
      return { rewards: [...scored.rewards], details: scored.details };
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw new ServiceError("BAD_REQUEST", `cannot score these rollouts: ${(error as Error).message}`);
    }
  }
}
