/** @module The trainer service: training runs pinned to dataset hashes, the engine protocol, the supervisor. */
export { createTrainerApp } from "./app";
export { loadConfig, type TrainerConfig } from "./config";
export { openTrainer, type Trainer } from "./runtime";
export { startServer } from "./server";
