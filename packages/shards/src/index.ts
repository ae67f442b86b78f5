/** @module The dataset shard format: hashing, blob storage, Parquet encoding, manifests, cards, building and verifying versions. */
export * from "./blob-store";
export * from "./builder";
export * from "./card";
export * from "./hashing";
export * from "./inputs";
export * from "./lines";
export * from "./manifest";
export * from "./owner";
export * from "./parquet";
export * from "./verify";
export * from "./worker-pool";
