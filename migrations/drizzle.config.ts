import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./schemas/src/db/index.ts",
  out: "./migrations/sql",
});
