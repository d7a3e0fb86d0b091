// The read-only view of a shared dataset, at /public/<share token>/d (the address the
// SDK's share_dataset() returns). No key: every call goes to LangSmith's public routes,
// /api/v1/public/<token>/…, and nothing is written. The token appears only in this
// page's path and in those calls' paths; nothing stores it.

import { Api, ApiError } from "./api.js";
import { readEvents } from "./sse.js";

const SHARED = /^\/public\/([0-9a-fA-F-]{36})\/d\/?$/;

/** The share token of this address, or "" when it is not a share link. */
export function shareToken(pathname = window.location.pathname) {
  return SHARED.exec(pathname)?.[1] ?? "";
}

/** The page's API, answered by the public routes of one share token. */
export class PublicApi extends Api {
  constructor(token) {
    super("", `/api/v1/public/${encodeURIComponent(token)}`);
    this.sessions = new Map(); // session id -> session as listed, with its feedback_stats
  }

  /** The one shared dataset, as a list of one. */
  async datasets() {
    return [await this.json("GET", "/datasets")];
  }

  /** Its experiments: only when it was shared with them (404 otherwise). */
  async experiments() {
    const listed = await this.all("/datasets/sessions");
    for (const session of listed) this.sessions.set(session.id, session);
    return listed;
  }

  /** Pairwise experiments are not part of a share: none offered. */
  async comparatives() {
    return [];
  }

  /** The public list already carries each experiment's feedback_stats. */
  async experimentStats(sessionId) {
    const known = this.sessions.get(sessionId);
    if (known) return known;
    const [found] = await this.json("GET", "/datasets/sessions", { query: { id: sessionId } });
    if (!found) throw new ApiError(404, null, "Not found (HTTP 404: this experiment is not part of the share).");
    this.sessions.set(sessionId, found);
    return found;
  }

  async rootRuns(sessionId, exampleId, filter) {
    const body = { session: [sessionId], reference_example: [exampleId], is_root: true, limit: 100 };
    if (filter && filter.trim()) body.filter = filter;
    const page = await this.json("POST", "/datasets/runs/query", { body });
    return page.runs;
  }

  async feedback(runIds) {
    if (runIds.length === 0) return [];
    const out = [];
    for (let i = 0; i < runIds.length; i += 50) {
      out.push(...(await this.all("/datasets/feedback", { run: runIds.slice(i, i + 50) })));
    }
    return out;
  }

  async *deltaStream(_datasetId, body, signal) {
    const response = await this.fetch("POST", "/datasets/runs/delta/stream", { body, signal });
    yield* readEvents(response.body);
  }
}

/** What a 404 through a share link means, in words; "" for any other failure. */
export function shareProblem(err, step) {
  if (!(err instanceof ApiError) || err.status !== 404) return "";
  return step === "dataset"
    ? "This share link does not open anything: it is not valid, or the dataset is no longer shared."
    : "Not found through this share link: the dataset is no longer shared, or was shared without its experiments.";
}
