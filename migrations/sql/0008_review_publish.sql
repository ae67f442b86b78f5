CREATE TABLE "publications" (
	"version_hash" text PRIMARY KEY NOT NULL,
	"parent_hash" text NOT NULL,
	"queue_id" uuid NOT NULL,
	"summary" jsonb NOT NULL,
	"published_by" uuid,
	"published_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sample_revisions" (
	"version_hash" text NOT NULL,
	"sample_id" text NOT NULL,
	"revision" integer NOT NULL,
	"sample" jsonb NOT NULL,
	"queue_id" uuid NOT NULL,
	"item" integer NOT NULL,
	"reviewer" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sample_revisions_version_hash_sample_id_revision_pk" PRIMARY KEY("version_hash","sample_id","revision")
);
--> statement-breakpoint
ALTER TABLE "review_decisions" ADD COLUMN "revision" integer;--> statement-breakpoint
ALTER TABLE "publications" ADD CONSTRAINT "publications_version_hash_dataset_versions_hash_fk" FOREIGN KEY ("version_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "publications" ADD CONSTRAINT "publications_parent_hash_dataset_versions_hash_fk" FOREIGN KEY ("parent_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "publications" ADD CONSTRAINT "publications_queue_id_review_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."review_queues"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sample_revisions" ADD CONSTRAINT "sample_revisions_version_hash_dataset_versions_hash_fk" FOREIGN KEY ("version_hash") REFERENCES "public"."dataset_versions"("hash") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sample_revisions" ADD CONSTRAINT "sample_revisions_queue_id_review_queues_id_fk" FOREIGN KEY ("queue_id") REFERENCES "public"."review_queues"("id") ON DELETE cascade ON UPDATE no action;