CREATE TABLE "training_exports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"step" integer NOT NULL,
	"dir" text NOT NULL,
	"dtype" text NOT NULL,
	"files" jsonb NOT NULL,
	"hub_repo" text,
	"hub_commit" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "training_exports" ADD CONSTRAINT "training_exports_run_id_training_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."training_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "training_exports_dir_idx" ON "training_exports" USING btree ("dir");--> statement-breakpoint
CREATE INDEX "training_exports_run_idx" ON "training_exports" USING btree ("run_id","step");