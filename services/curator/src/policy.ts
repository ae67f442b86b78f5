/**
 * @module Who may call which curator route. Every route the app registers has a rule here (the access test
 * checks it); a route without one is refused. Roles: `admin` everything; `curator` datasets, versions and
 * pipeline runs; `pipeline` the service account that runs jobs and publishes; `reviewer` reads what it reviews;
 * `trainer` reads versions and their files. Rules with an `action` are written to the audit log when they
 * succeed.
 */
import type { AccessPolicy, Role } from "@sovereign/http";

const everyone: Role[] = ["admin", "curator", "reviewer", "pipeline", "trainer"];
const builders: Role[] = ["admin", "curator", "pipeline"];
const admin: Role[] = ["admin"];
const reviewers: Role[] = ["admin", "curator", "reviewer"];

export const curatorPolicy: AccessPolicy = {
  "GET /health": { roles: "public" },
  "GET /openapi.json": { roles: "public" },
  "GET /docs": { roles: "public" },

  "GET /v1/datasets": { roles: everyone },
  "GET /v1/datasets/:name": { roles: everyone },
  "POST /v1/datasets": { roles: builders, action: "dataset.create" },
  "POST /v1/uploads": { roles: builders, action: "upload.create" },

  "GET /v1/datasets/:name/versions": { roles: everyone },
  "POST /v1/datasets/:name/versions": { roles: builders, action: "version.build" },
  "GET /v1/versions/:hash": { roles: everyone },
  "POST /v1/versions/:hash/commit": { roles: builders, action: "version.commit" },
  "DELETE /v1/versions/:hash": { roles: builders, action: "version.discard" },
  "GET /v1/versions/:hash/diff/:other": { roles: everyone },
  "POST /v1/versions/:hash/verify": { roles: builders },
  "GET /v1/versions/:hash/hub-pushes": { roles: everyone },
  "GET /v1/versions/:hash/files/:path{.+}": { roles: everyone },
  "HEAD /v1/versions/:hash/files/:path{.+}": { roles: everyone },
  "GET /v1/versions/:hash/samples": { roles: everyone },
  "GET /v1/versions/:hash/samples/:sampleId": { roles: everyone },
  "GET /v1/versions/:hash/rejected": { roles: everyone },
  "GET /v1/versions/:hash/stats": { roles: everyone },

  "GET /v1/pipelines": { roles: builders },
  "GET /v1/pipelines/runs": { roles: builders },
  "GET /v1/pipelines/runs/:id": { roles: builders },
  "POST /v1/pipelines/runs": { roles: builders, action: "run.create" },
  "POST /v1/pipelines/runs/:id/cancel": { roles: builders, action: "run.cancel" },
  "POST /v1/pipelines/runs/:id/resume": { roles: builders, action: "run.resume" },

  "POST /v1/versions/:hash/review-queues": { roles: ["admin", "curator"], action: "review.queue.create" },
  "GET /v1/review-queues": { roles: reviewers },
  "GET /v1/review-queues/:id": { roles: reviewers },
  "GET /v1/review-queues/:id/metrics": { roles: reviewers },
  "POST /v1/review-queues/:id/next": { roles: reviewers },
  "POST /v1/review-queues/:id/items/:item/decision": { roles: reviewers, action: "review.decide" },
  "POST /v1/review-queues/:id/publish": { roles: builders, action: "version.publish" },

  // The reviewers' web page (web/pages.tsx): signed in to a session whose id is kept in a cookie.
  "GET /review/sign-in": { roles: "public" },
  "POST /review/sign-in": { roles: "public" },
  "POST /review/sign-out": { roles: "public" },
  "GET /review": { roles: reviewers, page: true },
  "GET /review/queues/:id": { roles: reviewers, page: true },
  "POST /review/queues/:id/next": { roles: reviewers, page: true },
  "GET /review/queues/:id/items/:item": { roles: reviewers, page: true },
  "GET /review/queues/:id/items/:item/edit": { roles: reviewers, page: true },
  "POST /review/queues/:id/items/:item/edit": { roles: reviewers, page: true },
  "POST /review/queues/:id/items/:item/decision": { roles: reviewers, page: true, action: "review.decide" },
  "GET /review/queues/:id/metrics": { roles: reviewers, page: true },

  // Token changes are audited by AccessControl itself, with the token they concern.
  "GET /v1/tokens": { roles: admin },
  "POST /v1/tokens": { roles: admin },
  "DELETE /v1/tokens/:id": { roles: admin },
  "GET /v1/audit": { roles: admin },
};
