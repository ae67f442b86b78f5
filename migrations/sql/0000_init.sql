CREATE TYPE "public"."version_status" AS ENUM('draft', 'committed', 'published');--> statement-breakpoint
CREATE TYPE "public"."dataset_kind" AS ENUM('chat', 'text', 'rl-prompt');--> statement-breakpoint
CREATE TABLE "dataset_versions" (
	"hash" text PRIMARY KEY NOT NULL,
	"dataset_id" uuid NOT NULL,
	"parents" text[] DEFAULT '{}' NOT NULL,
	"pipeline_name" text NOT NULL,
	"config_hash" text NOT NULL,
	"status" "version_status" DEFAULT 'draft' NOT NULL,
	"manifest" jsonb NOT NULL,
	"card_sha256" text NOT NULL,
	"stats" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"committed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" "dataset_kind" NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "datasets_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "samples" (
	"version_hash" text NOT NULL,
	"sample_id" text NOT NULL,
	"position" integer NOT NULL,
	"content_hash" text NOT NULL,
	"split" text NOT NULL,
	"source" text NOT NULL,
	"shard_sha256" text NOT NULL,
	"shard_ordinal" integer NOT NULL,
	"row" integer NOT NULL,
	CONSTRAINT "samples_version_hash_sample_id_pk" PRIMARY KEY("version_hash","sample_id")
);
--> statement-breakpoint
CREATE TABLE "shards" (
	"version_hash" text NOT NULL,
	"ordinal" integer NOT NULL,
	"path" text NOT NULL,
	"split" text NOT NULL,
	"sha256" text NOT NULL,
	"bytes" bigint NOT NULL,
	"rows" integer NOT NULL,
	CONSTRAINT "shards_version_hash_ordinal_pk" PRIMARY KEY("version_hash","ordinal")
);
--> statement-breakpoint
ALTER TABLE "dataset_versions" ADD CONSTRAINT "dataset_versions_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "samples" ADD CONSTRAINT "samples_version_hash_dataset_versions_hash_fk" FOREIGN KEY ("version_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shards" ADD CONSTRAINT "shards_version_hash_dataset_versions_hash_fk" FOREIGN KEY ("version_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dataset_versions_dataset_created_idx" ON "dataset_versions" USING btree ("dataset_id","created_at");--> statement-breakpoint
CREATE INDEX "samples_browse_idx" ON "samples" USING btree ("version_hash","split","position");--> statement-breakpoint
CREATE INDEX "samples_source_idx" ON "samples" USING btree ("version_hash","source","position");--> statement-breakpoint
CREATE INDEX "samples_content_idx" ON "samples" USING btree ("version_hash","content_hash");--> statement-breakpoint
CREATE INDEX "shards_sha256_idx" ON "shards" USING btree ("sha256");