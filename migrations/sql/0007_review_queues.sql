CREATE TABLE "review_decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"queue_id" uuid NOT NULL,
	"item" integer NOT NULL,
	"reviewer" text NOT NULL,
	"decision" text NOT NULL,
	"reasons" text[] DEFAULT '{}' NOT NULL,
	"note" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "review_decisions_once" UNIQUE("queue_id","item","reviewer")
);
--> statement-breakpoint
CREATE TABLE "review_items" (
	"queue_id" uuid NOT NULL,
	"item" integer NOT NULL,
	"kind" text NOT NULL,
	"sample_id" text,
	"rejected_position" integer,
	"stratum" text NOT NULL,
	"decisions" integer DEFAULT 0 NOT NULL,
	"lease_holder" text,
	"lease_expires" timestamp with time zone,
	CONSTRAINT "review_items_queue_id_item_pk" PRIMARY KEY("queue_id","item")
);
--> statement-breakpoint
CREATE TABLE "review_queues" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"version_hash" text NOT NULL,
	"name" text NOT NULL,
	"plan" jsonb NOT NULL,
	"reviews_per_item" integer NOT NULL,
	"lease_seconds" integer NOT NULL,
	"items" integer NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "review_decisions" ADD CONSTRAINT "review_decisions_queue_id_review_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."review_queues"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_items" ADD CONSTRAINT "review_items_queue_id_review_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."review_queues"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_queues" ADD CONSTRAINT "review_queues_version_hash_dataset_versions_hash_fk" FOREIGN KEY ("version_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "review_items_next_idx" ON "review_items" USING btree ("queue_id","decisions","item");