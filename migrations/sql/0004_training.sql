CREATE TYPE "public"."training_status" AS ENUM('queued', 'running', 'cancelling', 'cancelled', 'failed', 'succeeded');--> statement-breakpoint
CREATE TABLE "training_checkpoints" (
	"run_id" uuid NOT NULL,
	"step" integer NOT NULL,
	"path" text NOT NULL,
	"files" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "training_checkpoints_run_id_step_pk" PRIMARY KEY("run_id","step")
);
--> statement-breakpoint
CREATE TABLE "training_metrics" (
	"run_id" uuid NOT NULL,
	"step" integer NOT NULL,
	"rank" integer NOT NULL,
	"metrics" jsonb NOT NULL,
	"loss" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "training_metrics_run_id_step_rank_pk" PRIMARY KEY("run_id","step","rank")
);
--> statement-breakpoint
CREATE TABLE "training_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text,
	"stage" text NOT NULL,
	"spec" jsonb NOT NULL,
	"datasets" jsonb NOT NULL,
	"spec_hash" text NOT NULL,
	"status" "training_status" DEFAULT 'queued' NOT NULL,
	"progress" jsonb,
	"error" text,
	"log_tail" text,
	"log_path" text,
	"engine_token_sha256" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "training_checkpoints" ADD CONSTRAINT "training_checkpoints_run_id_training_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."training_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "training_metrics" ADD CONSTRAINT "training_metrics_run_id_training_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."training_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "training_runs_status_idx" ON "training_runs" USING btree ("status","created_at");