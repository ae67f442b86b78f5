#!/usr/bin/env node
// Runs the TypeScript CLI directly: the workspace packages export their sources.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");
