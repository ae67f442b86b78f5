/**
 * @module The trainer's data plane: dataset versions as packed training rows and prompt batches in the
 * engine's binary frame, tokenized once into a persistent cache, in a deterministic, resumable order.
 */
export { type CacheEvent, cacheKey, cachePath, chosenSplits, type VersionInput } from "./build";
export type { DocumentStats } from "./cache-file";
export {
  DOCUMENT_FORMAT,
  Documentizer,
  type DocumentTokenizer,
  endOfTextId,
  type Overlong,
  type PromptMeta,
  type RewardModel,
  ROLES,
  type Role,
  specialTokenId,
  type TokenDocument,
  trainedLabels,
} from "./documents";
export {
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  FRAME_MAGIC,
  FRAME_VERSION,
  type FrameArray,
  type FrameArrayEntry,
  type FrameDtype,
  FrameError,
  type FrameHeader,
} from "./frame";
export { epochOrder } from "./order";
export { allocateRows, type EpochPlan, IGNORE_INDEX, type PackedRows, planEpoch, writeRow } from "./packing";
export type { PromptInfo } from "./planes";
export {
  DEFAULT_PACK_WINDOW,
  openTrainingData,
  type TrainingData,
  type TrainingDataOptions,
  type TrainingDataStats,
} from "./training-data";
