CREATE TYPE "public"."run_origin" AS ENUM('api', 'operator');--> statement-breakpoint
ALTER TABLE "pipeline_runs" ADD COLUMN "origin" "run_origin" DEFAULT 'api' NOT NULL;