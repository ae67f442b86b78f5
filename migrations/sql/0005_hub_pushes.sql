CREATE TABLE "hub_pushes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"version_hash" text NOT NULL,
	"endpoint" text NOT NULL,
	"repo" text NOT NULL,
	"branch" text NOT NULL,
	"commit_sha" text NOT NULL,
	"commit_url" text,
	"files" jsonb NOT NULL,
	"pushed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "hub_pushes" ADD CONSTRAINT "hub_pushes_version_hash_dataset_versions_hash_fk" FOREIGN KEY ("version_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "hub_pushes_version_idx" ON "hub_pushes" USING btree ("version_hash","pushed_at");