/** @module Thai text: normalization, segmentation and script statistics. */
export * from "./chars";
export * from "./normalize";
export * from "./script";
export * from "./segment";
