CREATE TABLE "page_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_sha256" text NOT NULL,
	"token_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "page_sessions_session_sha256_unique" UNIQUE("session_sha256")
);
--> statement-breakpoint
ALTER TABLE "page_sessions" ADD CONSTRAINT "page_sessions_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "page_sessions_token_idx" ON "page_sessions" USING btree ("token_id");--> statement-breakpoint
CREATE INDEX "page_sessions_expires_idx" ON "page_sessions" USING btree ("expires_at");