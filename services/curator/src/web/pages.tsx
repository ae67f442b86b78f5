/**
 * @module The reviewers' web page, served by the curator under /review: sign in with an API token (which makes
 * a server-side session; the HttpOnly, same-site cookie holds the session's id, never the token), the queues
 * with their progress, the review screen, the edit view with a diff against the original, and a queue's
 * metrics.
 *
 * Server-rendered with hono/jsx: every screen is one request to the same process that holds the queues, so
 * the page needs no build step, no client bundle and no second copy of the access rules; forms post to the
 * server and it redirects (post/redirect/get), so a reload never decides twice. The only script is the
 * keyboard layer in layout.tsx. Pages go through the same access policy as the API (`page` rules: the caller
 * may be the cookie's session, and a caller without a valid one is sent to sign in); form posts must come
 * from the page's own origin.
 */
import { type Role, ServiceError } from "@sovereign/http";
import { type DatasetKind, type Sample, sampleSchemas } from "@sovereign/schemas";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { App, AppEnv } from "../context";
import { curatorPolicy } from "../policy";
import type { Decision } from "../review";
import { diffWords } from "./diff";
import { applyFields, editableFields } from "./fields";
import { Layout, Progress, type Viewer } from "./layout";
import { DiffView, RejectedView, SampleView } from "./sample";

export const SESSION_COOKIE = "curator_session";

/** Reason codes offered when rejecting; a dropped record's reviewer may also say the filter was right. */
export const REJECT_REASONS: [code: string, label: string][] = [
  ["wrong-answer", "Wrong or unhelpful answer"],
  ["off-topic", "Off topic"],
  ["bad-thai", "Unnatural or broken Thai"],
  ["constraint-unmet", "Misses a constraint"],
  ["bad-tool-use", "Wrong tool call or arguments"],
  ["unsafe", "Unsafe or harmful"],
  ["format", "Broken format or cut off"],
  ["duplicate", "Duplicate"],
  ["other", "Other (say in the note)"],
];
const FILTER_RIGHT: [string, string] = ["filter-right", "The filter was right to drop it"];

/** The roles that may review: those of the review page's own rule. */
const reviewerRoles = curatorPolicy["GET /review"]?.roles as readonly Role[];

export const isPagePath = (path: string) => path === "/review" || path.startsWith("/review/");

type PageContext = Context<AppEnv>;

const viewerOf = (c: PageContext): Viewer => {
  const p = c.get("principal");
  return p ? { name: p.name, role: p.role } : undefined;
};
const reviewerOf = (c: PageContext) => c.get("principal")?.tokenId ?? "local";
const itemPath = (queue: string, item: number) => `/review/queues/${queue}/items/${item}`;

/** An error as a page, for requests under /review. */
export function errorPage(
  c: Context,
  error: { code: string; message: string; status: number; requestId: string },
  /** An edit that could not be saved: its fields, shown so the reviewer's text is not lost. */
  unsaved?: { label: string; value: string }[],
) {
  const queue = /^\/review\/queues\/([0-9a-f-]{36})/.exec(c.req.path)?.[1];
  return c.html(
    <Layout title="Error" viewer={viewerOf(c as PageContext)} auth={true}>
      <h1>{error.status === 409 ? "That did not go through" : "Something is wrong"}</h1>
      <div class="notice error" data-error={error.code}>
        {error.message}
      </div>
      <p class="small muted">request {error.requestId}</p>
      {unsaved?.length ? (
        <div data-unsaved="true">
          <h2>Your edit, not saved</h2>
          <p class="small muted">
            Copy what you need, take the item again and redo the edit on what it holds now.
          </p>
          {unsaved.map((f) => (
            <div class="card">
              <div class="role">{f.label}</div>
              <textarea readonly rows={Math.min(12, f.value.split("\n").length + 1)} lang="th">
                {f.value}
              </textarea>
            </div>
          ))}
        </div>
      ) : null}
      <p>
        {queue ? (
          <a href={`/review/queues/${queue}`} data-key="q" data-help="back to the queue">
            Back to the queue
          </a>
        ) : (
          <a href="/review" data-key="q" data-help="queues">
            Queues
          </a>
        )}
      </p>
    </Layout>,
    error.status as 400,
  );
}

/** The kind of the dataset a queue reviews, which says how its samples are edited. */
async function kindOf(c: PageContext, queueId: string): Promise<DatasetKind> {
  const { version } = await c.get("reviews").get(queueId);
  return (await c.get("registry").getVersion(version)).kind as DatasetKind;
}

/** A form field as a list of strings (checkboxes send one value per checked box). */
const all = (value: unknown): string[] =>
  value === undefined ? [] : (Array.isArray(value) ? value : [value]).filter((v) => typeof v === "string");

export function registerReviewPages(
  app: App,
  options: { auth: boolean; publicUrl?: string | undefined; sessionHours: number },
) {
  // Form posts only from the page itself: a browser sends Origin (or Sec-Fetch-Site) with every form post.
  app.use("/review/*", async (c, next) => {
    if (c.req.method === "POST") {
      const origin = c.req.header("origin");
      const site = c.req.header("sec-fetch-site");
      const own = [new URL(c.req.url).origin, options.publicUrl && new URL(options.publicUrl).origin];
      if (!(site === "same-origin" || (origin && own.includes(origin))))
        throw new ServiceError(
          "FORBIDDEN",
          "form posts to the review page must come from the review page itself",
        );
    }
    return next();
  });

  app.get("/review/sign-in", (c) => {
    if (!options.auth) return c.redirect("/review", 303);
    return c.html(<SignIn next={c.req.query("next") ?? ""} />);
  });

  app.post("/review/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const next =
      typeof form.next === "string" && isPagePath(form.next.split("?")[0] ?? "") ? form.next : "/review";
    const principal = token ? await c.get("access").verify(token) : undefined;
    const refused = !principal
      ? "That token is not valid: unknown or revoked."
      : !reviewerRoles.includes(principal.role)
        ? `A ${principal.role} token cannot review; ask for a reviewer token.`
        : undefined;
    if (refused || !principal) return c.html(<SignIn next={next} error={refused} />, 400);
    const { session } = await c.get("access").createSession(principal, options.sessionHours);
    setCookie(c, SESSION_COOKIE, session, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/review",
      // Behind a proxy that ends TLS the request is plain HTTP, but the browser's page is PUBLIC_URL's.
      secure: new URL(c.req.url).protocol === "https:" || options.publicUrl?.startsWith("https:") === true,
      maxAge: Math.round(options.sessionHours * 3600),
    });
    return c.redirect(next, 303);
  });

  app.post("/review/sign-out", async (c) => {
    const session = getCookie(c, SESSION_COOKIE);
    if (session) await c.get("access").endSession(session);
    deleteCookie(c, SESSION_COOKIE, { path: "/review" });
    return c.redirect(options.auth ? "/review/sign-in" : "/review", 303);
  });

  app.get("/review", async (c) => {
    const queues = await c.get("reviews").list();
    const registry = c.get("registry");
    const datasets = new Map<string, string>();
    for (const q of queues)
      if (!datasets.has(q.version)) datasets.set(q.version, (await registry.getVersion(q.version)).dataset);
    return c.html(
      <Layout title="Queues" viewer={viewerOf(c)} auth={options.auth}>
        <h1>Review queues</h1>
        {queues.length ? (
          <table>
            <thead>
              <tr>
                <th>#</th>
                <th>Queue</th>
                <th>Dataset · version</th>
                <th>Sampling</th>
                <th>Reviews per item</th>
                <th>Complete</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {queues.map((q, i) => (
                <tr data-queue={q.id}>
                  <td>{i < 9 ? <kbd>{i + 1}</kbd> : null}</td>
                  <td>
                    <a href={`/review/queues/${q.id}`} {...(i < 9 ? { "data-key": String(i + 1) } : {})}>
                      {q.name}
                    </a>
                  </td>
                  <td>
                    {datasets.get(q.version)} · <code>{q.version.slice(0, 12)}</code>
                  </td>
                  <td>
                    {q.plan.strata === "none" ? "uniform" : `by ${q.plan.strata}`}, {q.plan.size}
                    {q.plan.strata === "none" ? "" : " each"}
                  </td>
                  <td>{q.reviewsPerItem}</td>
                  <td>
                    <Progress done={q.progress.complete} total={q.items} />
                  </td>
                  <td>
                    <a href={`/review/queues/${q.id}/metrics`}>metrics</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">
            No review queues yet. A curator creates one for a version (POST
            /v1/versions/&lt;hash&gt;/review-queues).
          </p>
        )}
        <p class="small muted">
          <kbd>1</kbd>–<kbd>9</kbd> open a queue · <kbd>?</kbd> shortcuts
        </p>
      </Layout>,
    );
  });

  app.get("/review/queues/:id", async (c) => {
    const id = queueParam(c);
    const queue = await c.get("reviews").get(id);
    const done = c.req.query("done") !== undefined;
    const after = c.req.query("after");
    return c.html(
      <Layout title={queue.name} viewer={viewerOf(c)} auth={options.auth}>
        <h1>{queue.name}</h1>
        {after ? <div class="notice">{after}</div> : null}
        <p>
          <Progress done={queue.progress.complete} total={queue.items} /> items complete ·{" "}
          {queue.progress.decisions} decisions · {queue.reviewsPerItem} per item
        </p>
        {done ? (
          <div class="notice" data-done="true">
            Nothing is left for you in this queue: every item has its decisions, is held by someone else, or
            was decided by you.
          </div>
        ) : null}
        <form method="post" action={`/review/queues/${id}/next`}>
          <button type="submit" class="primary" data-key="n" data-help="next item" autofocus>
            Review the next item
          </button>{" "}
          <a class="button" href={`/review/queues/${id}/metrics`} data-key="m" data-help="metrics">
            Metrics
          </a>{" "}
          <a class="button" href="/review" data-key="q" data-help="queues">
            All queues
          </a>
        </form>
      </Layout>,
    );
  });

  app.post("/review/queues/:id/next", async (c) => {
    const id = queueParam(c);
    const item = await c.get("reviews").next(id, reviewerOf(c));
    return c.redirect(item ? itemPath(id, item.item) : `/review/queues/${id}?done`, 303);
  });

  app.get("/review/queues/:id/items/:item", async (c) => {
    const id = queueParam(c);
    const number = itemNumber(c.req.param("item"));
    const item = await c.get("reviews").item(id, number);
    const queue = await c.get("reviews").get(id);
    const reviewer = reviewerOf(c);
    const mine = item.leaseHolder === reviewer;
    const decidedByMe = item.decided.find((d) => d.reviewer === reviewer);
    const after = c.req.query("after");
    const registry = c.get("registry");
    let kept: Sample | undefined;
    const keptId = (item.rejected?.detail as { kept?: unknown } | null | undefined)?.kept;
    if (typeof keptId === "string")
      kept = await registry.getSample(queue.version, keptId).then(
        (s) => s.sample,
        () => undefined,
      );
    const reasons = item.kind === "rejected" ? [FILTER_RIGHT, ...REJECT_REASONS] : REJECT_REASONS;
    const path = itemPath(id, number);
    return c.html(
      <Layout title={`${queue.name} · item ${number}`} viewer={viewerOf(c)} auth={options.auth}>
        <p class="small">
          <a href={`/review/queues/${id}`}>{queue.name}</a> · item {number} of {queue.items} ·{" "}
          <span class="tag">{item.stratum}</span>
          {item.sample ? (
            <span class="muted">
              {" "}
              sample <code>{item.sample.sampleId}</code> · {item.sample.split} · {item.sample.source} ·
              revision {item.sample.revision}
            </span>
          ) : null}{" "}
          · {item.decisions}/{item.reviewsPerItem} decisions
        </p>
        {after ? <div class="notice">{after}</div> : null}
        {decidedByMe ? (
          <div class="notice" data-decided={decidedByMe.decision}>
            You decided this item: <strong>{decidedByMe.decision}</strong>
            {decidedByMe.reasons.length ? ` (${decidedByMe.reasons.join(", ")})` : ""}.
          </div>
        ) : !mine ? (
          <div class="notice error">This item is not leased to you. Take the next item to review.</div>
        ) : null}
        {item.sample ? (
          <div data-sample-id={item.sample.sampleId}>
            <SampleView sample={item.sample.sample} />
          </div>
        ) : null}
        {item.rejected ? <RejectedView rejected={item.rejected} kept={kept} /> : null}
        {mine && !decidedByMe ? (
          <>
            <form method="post" action={`${path}/decision`} id="decide">
              <div class="actions">
                <button
                  type="submit"
                  name="decision"
                  value="accept"
                  class="accept"
                  data-key="a"
                  data-help={item.kind === "rejected" ? "keep: the filter was wrong" : "accept"}
                >
                  {item.kind === "rejected" ? "Keep it (filter wrong)" : "Accept"} <kbd>a</kbd>
                </button>
                <button
                  type="button"
                  class="reject"
                  data-key="r"
                  data-open-panel
                  data-help={item.kind === "rejected" ? "drop: the filter was right" : "reject"}
                >
                  {item.kind === "rejected" ? "Drop it (filter right)" : "Reject"} <kbd>r</kbd>
                </button>
                {item.sample ? (
                  <a class="button" href={`${path}/edit`} data-key="e" data-help="edit">
                    Edit <kbd>e</kbd>
                  </a>
                ) : null}
                <a class="button" href={`/review/queues/${id}/metrics`} data-key="m" data-help="metrics">
                  Metrics
                </a>
                <span class="small muted" data-expires={item.leaseExpiresAt}>
                  lease until {item.leaseExpiresAt}
                </span>
                <span class="small muted">
                  <kbd>?</kbd> shortcuts
                </span>
              </div>
            </form>
            <form method="post" action={`${path}/decision`} id="reject-panel">
              <input type="hidden" name="decision" value="reject" />
              <strong>Reject: why?</strong>{" "}
              <span class="small muted">(digits toggle, Enter rejects, Esc closes)</span>
              <div>
                {reasons.map(([code, label], i) => (
                  <label>
                    <input
                      type="checkbox"
                      name="reasons"
                      value={code}
                      data-digit={i < 9 ? String(i + 1) : undefined}
                    />{" "}
                    {i < 9 ? <kbd>{i + 1}</kbd> : null} {label}
                  </label>
                ))}
              </div>
              <textarea name="note" rows={2} placeholder="A note (optional; Ctrl+Enter rejects)" />
              <p>
                <button type="submit" class="reject">
                  Reject
                </button>
              </p>
            </form>
          </>
        ) : (
          <div class="actions">
            <form method="post" action={`/review/queues/${id}/next`}>
              <button type="submit" class="primary" data-key="n" data-help="next item">
                Next item <kbd>n</kbd>
              </button>
            </form>
            <a class="button" href={`/review/queues/${id}`} data-key="q" data-help="back to the queue">
              Queue
            </a>
          </div>
        )}
      </Layout>,
    );
  });

  /** The edit view: each editable text in a field, and the diff of what is there against the original. */
  const editView = async (c: PageContext, form?: Record<string, unknown>) => {
    const id = queueParam(c);
    const number = itemNumber(c.req.param("item") as string);
    const reviews = c.get("reviews");
    const [item, kind] = await Promise.all([reviews.item(id, number), kindOf(c, id)]);
    if (!item.sample)
      throw new ServiceError("BAD_REQUEST", "only samples can be edited, not dropped records");
    if (item.leaseHolder !== reviewerOf(c))
      throw new ServiceError("CONFLICT", `item ${number} is not leased to you: take the next item first`);
    const current = item.sample.sample;
    const original = item.sample.original ?? current;
    let edited = current;
    let problem: string | undefined;
    if (form) {
      try {
        edited = applyFields(kind, current, form);
        const parsed = sampleSchemas[kind].safeParse(edited);
        if (!parsed.success)
          problem = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      } catch (error) {
        problem = (error as Error).message;
      }
    }
    const revision = form && typeof form.revision === "string" ? form.revision : String(item.sample.revision);
    const fields = editableFields(kind, edited);
    const before = new Map(editableFields(kind, original).map((f) => [f.name, f.value]));
    const changed = fields.filter((f) => before.get(f.name) !== f.value);
    const path = itemPath(id, number);
    return c.html(
      <Layout title={`Edit item ${number}`} viewer={viewerOf(c)} auth={options.auth}>
        <p class="small">
          <a href={path} data-escape>
            ← item {number}
          </a>{" "}
          · sample <code>{item.sample.sampleId}</code> · editing revision {revision}
        </p>
        <h1>Edit</h1>
        {problem ? (
          <div class="notice error" data-problem="true">
            {problem}
          </div>
        ) : null}
        <form method="post" action={`${path}/edit`}>
          <input type="hidden" name="revision" value={revision} />
          {fields.map((f, i) => (
            <div class="card">
              <label class="role" for={f.name}>
                {f.label}
              </label>
              <textarea
                id={f.name}
                name={f.name}
                rows={Math.min(16, Math.max(2, f.value.split("\n").length + 1))}
                class={f.name.endsWith("arguments") ? "code" : undefined}
                autofocus={i === fields.length - 1}
                lang="th"
              >
                {f.value}
              </textarea>
            </div>
          ))}
          <div class="actions">
            <button type="submit" data-ctrl-enter>
              Show the diff <kbd>Ctrl+Enter</kbd>
            </button>
            <button
              type="submit"
              class="primary"
              formaction={`${path}/decision`}
              name="decision"
              value="edit"
              data-ctrl-s
            >
              Save the edit <kbd>Ctrl+S</kbd>
            </button>
            <span class="small muted">
              <kbd>Esc</kbd> back without saving
            </span>
          </div>
        </form>
        <h2>Against the original</h2>
        {changed.length ? (
          changed.map((f) => (
            <div class="card" data-diff={f.name}>
              <div class="role">{f.label}</div>
              <DiffView parts={diffWords(before.get(f.name) ?? "", f.value)} />
            </div>
          ))
        ) : (
          <p class="muted" data-diff="none">
            No changes yet.
          </p>
        )}
      </Layout>,
      problem ? 400 : 200,
    );
  };

  app.get("/review/queues/:id/items/:item/edit", (c) => editView(c));
  app.post("/review/queues/:id/items/:item/edit", async (c) => editView(c, await c.req.parseBody()));

  app.post("/review/queues/:id/items/:item/decision", async (c) => {
    const id = queueParam(c);
    const number = itemNumber(c.req.param("item"));
    const form = await c.req.parseBody({ all: true });
    const decision = form.decision;
    if (decision !== "accept" && decision !== "reject" && decision !== "edit")
      throw new ServiceError("BAD_REQUEST", "form.decision: accept, reject or edit");
    const reviews = c.get("reviews");
    const reviewer = reviewerOf(c);
    const input: { decision: Decision; reasons: string[]; note: string; sample?: unknown; ifMatch?: number } =
      {
        decision,
        reasons: all(form.reasons),
        note: all(form.note)[0]?.trim() ?? "",
      };
    if (decision === "reject" && !input.reasons.length) {
      if (!input.note)
        throw new ServiceError("BAD_REQUEST", "a rejection needs a reason: tick one, or write a note");
      input.reasons = ["other"];
    }
    const kind = decision === "edit" ? await kindOf(c, id) : undefined;
    if (kind) {
      const item = await reviews.item(id, number);
      if (!item.sample)
        throw new ServiceError("BAD_REQUEST", "only samples can be edited, not dropped records");
      const single = Object.fromEntries(
        Object.entries(form).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]),
      );
      try {
        input.sample = applyFields(kind, item.sample.sample, single);
      } catch (error) {
        throw new ServiceError("BAD_REQUEST", (error as Error).message);
      }
      const revision = Number(all(form.revision)[0]);
      if (!Number.isInteger(revision))
        throw new ServiceError("BAD_REQUEST", "form.revision: the revision edited");
      input.ifMatch = revision;
    }
    try {
      await reviews.decide(id, number, reviewer, input);
    } catch (error) {
      // An edit refused (the lease expired, or someone else's edit came first): the reviewer keeps their text.
      if (!(kind && error instanceof ServiceError && error.code === "CONFLICT")) throw error;
      const fields = editableFields(kind, input.sample as Sample).map((f) => ({
        label: f.label,
        value: f.value,
      }));
      return errorPage(
        c,
        { code: error.code, message: error.message, status: 409, requestId: c.get("requestId") },
        fields,
      );
    }
    const said = `Item ${number}: ${decision === "accept" ? "accepted" : decision === "reject" ? `rejected (${input.reasons.join(", ")})` : "edited"}.`;
    const next = await reviews.next(id, reviewer);
    const after = `after=${encodeURIComponent(said)}`;
    return c.redirect(
      next ? `${itemPath(id, next.item)}?${after}` : `/review/queues/${id}?done&${after}`,
      303,
    );
  });

  app.get("/review/queues/:id/metrics", async (c) => {
    const id = queueParam(c);
    const reviews = c.get("reviews");
    const [queue, m] = await Promise.all([reviews.get(id), reviews.metrics(id)]);
    const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(1)}%`);
    return c.html(
      <Layout title={`${queue.name} · metrics`} viewer={viewerOf(c)} auth={options.auth}>
        <p class="small">
          <a href={`/review/queues/${id}`} data-key="q" data-help="back to the queue">
            ← {queue.name}
          </a>
        </p>
        <h1>Metrics</h1>
        <p>
          <Progress done={m.complete} total={m.items} /> items complete · {m.decisions} decisions
        </p>
        <h2>Acceptance by stratum</h2>
        <table data-table="strata">
          <thead>
            <tr>
              <th>Stratum</th>
              <th>Items</th>
              <th>Decisions</th>
              <th>Kept</th>
              <th>Acceptance</th>
            </tr>
          </thead>
          <tbody>
            {m.byStratum.map((s) => (
              <tr>
                <td>{s.stratum}</td>
                <td>{s.items}</td>
                <td>{s.decisions}</td>
                <td>{s.accepted}</td>
                <td>{pct(s.acceptance)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Agreement between reviewers</h2>
        {m.agreement ? (
          <p data-agreement={m.agreement.method}>
            {m.agreement.method === "cohen" ? "Cohen's" : "Fleiss'"} κ ={" "}
            <strong>{m.agreement.kappa === null ? "—" : m.agreement.kappa.toFixed(3)}</strong> over{" "}
            {m.agreement.items} items with all their decisions
          </p>
        ) : (
          <p class="muted">One decision per item: no agreement to measure.</p>
        )}
        {m.filterPrecision.length ? (
          <>
            <h2>Filter precision</h2>
            <p class="small muted">Of the dropped records reviewed, the share reviewers would drop too.</p>
            <table data-table="filters">
              <thead>
                <tr>
                  <th>Step / reason</th>
                  <th>Reviewed</th>
                  <th>Agreed</th>
                  <th>Precision</th>
                </tr>
              </thead>
              <tbody>
                {m.filterPrecision.map((f) => (
                  <tr>
                    <td>{f.reason}</td>
                    <td>{f.reviewed}</td>
                    <td>{f.agreed}</td>
                    <td>{pct(f.precision)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </Layout>,
    );
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The queue id of a page's path; a malformed one is not a queue (404 rather than a database error). */
function queueParam(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!UUID.test(id)) throw new ServiceError("NOT_FOUND", `review queue ${id} not found`);
  return id;
}

function itemNumber(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new ServiceError("BAD_REQUEST", `path.item: ${JSON.stringify(raw)} is not an item number`);
  return n;
}

function SignIn(props: { next: string; error?: string }) {
  return (
    <Layout title="Sign in" viewer={undefined} auth={true}>
      <h1>Sign in</h1>
      <p>
        Paste your API token (a reviewer, curator or admin token; an admin makes one with{" "}
        <code>curator token create</code>).
      </p>
      {props.error ? <div class="notice error">{props.error}</div> : null}
      <form method="post" action="/review/sign-in">
        <input type="hidden" name="next" value={props.next} />
        <p>
          <input
            type="password"
            name="token"
            autocomplete="off"
            size={60}
            placeholder="sv_…"
            autofocus
            aria-label="API token"
          />{" "}
          <button type="submit" class="primary">
            Sign in
          </button>
        </p>
      </form>
    </Layout>
  );
}
