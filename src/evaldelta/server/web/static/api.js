// The slice of evaldelta's REST API the page uses, with errors turned into sentences.

import { readEvents } from "./sse.js";

const BASE = "/api/v1";
const PAGE = 100; // the API's largest page

/** An HTTP answer other than 2xx, or a server that could not be reached. */
export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {unknown} detail the answer's `detail`, if it had one
   * @param {string} message
   */
  constructor(status, detail, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

const WHAT = {
  401: "The API key was not accepted",
  403: "This API key may not do that",
  404: "Not found",
  413: "The request was too large",
  422: "The request was rejected",
};

/** One readable line from FastAPI's `detail` (a string, or a list of {loc, msg}). */
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        if (!item || typeof item !== "object") return String(item);
        const loc = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body") : [];
        return loc.length > 0 ? `${loc.join(" › ")}: ${item.msg}` : String(item.msg);
      })
      .join("; ");
  }
  return detail == null ? "" : JSON.stringify(detail);
}

async function errorFrom(response) {
  let detail = null;
  try {
    const body = await response.json();
    detail = body && typeof body === "object" && "detail" in body ? body.detail : body;
  } catch {
    detail = response.statusText || null;
  }
  const what = WHAT[response.status] ?? (response.status >= 500 ? "The server failed" : "Error");
  const text = detailText(detail);
  return new ApiError(
    response.status,
    detail,
    `${what} (HTTP ${response.status}${text ? `: ${text}` : ""}).`,
  );
}

export class Api {
  /**
   * @param {string} key the API key, sent as x-api-key ("" sends none)
   * @param {string} base where the paths below start
   */
  constructor(key, base = BASE) {
    this.key = key;
    this.base = base;
  }

  async fetch(method, path, { query, body, signal } = {}) {
    const url = new URL(this.base + path, window.location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined && one !== null) url.searchParams.append(name, String(one));
      }
    }
    const headers = { accept: "application/json" };
    if (this.key) headers["x-api-key"] = this.key;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      if (err?.name === "AbortError") throw err;
      throw new ApiError(0, null, `Could not reach the evaldelta server (${err?.message ?? err}).`);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async json(method, path, options) {
    const response = await this.fetch(method, path, options);
    return response.json();
  }

  /** Every page of a list endpoint that pages with offset/limit. */
  async all(path, query = {}) {
    const rows = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.json("GET", path, { query: { ...query, offset, limit: PAGE } });
      rows.push(...page);
      if (page.length < PAGE) return rows;
    }
  }

  datasets() {
    return this.all("/datasets");
  }

  /** The experiments on a dataset, newest first. */
  experiments(datasetId) {
    return this.all("/sessions", { reference_dataset: datasetId });
  }

  /** The pairwise (comparative) experiments on a dataset, newest first. */
  comparatives(datasetId) {
    return this.all(`/datasets/${encodeURIComponent(datasetId)}/comparative`);
  }

  /** One experiment with its `feedback_stats` (which keys it has feedback for). */
  experimentStats(sessionId) {
    return this.json("GET", `/sessions/${encodeURIComponent(sessionId)}`, {
      query: { include_stats: true },
    });
  }

  /** Examples by id, in as many requests as the ids need. */
  async examples(ids) {
    const out = [];
    for (let i = 0; i < ids.length; i += PAGE) {
      const chunk = ids.slice(i, i + PAGE);
      out.push(...(await this.json("GET", "/examples", { query: { id: chunk, limit: PAGE } })));
    }
    return out;
  }

  /** The root runs of one experiment on one example (one per repetition), only those
   * matching `filter` when one is given (as the delta engine counts them). */
  async rootRuns(sessionId, exampleId, filter) {
    const body = { session: [sessionId], reference_example: [exampleId], is_root: true, limit: PAGE };
    if (filter && filter.trim()) body.filter = filter;
    const page = await this.json("POST", "/runs/query", { body });
    return page.runs;
  }

  /** Feedback on the given runs. */
  async feedback(runIds) {
    if (runIds.length === 0) return [];
    const out = [];
    for (let i = 0; i < runIds.length; i += 50) {
      out.push(...(await this.all("/feedback", { run: runIds.slice(i, i + 50) })));
    }
    return out;
  }

  /**
   * The feedback-delta stream: yields {event, data} as each key's chunk arrives.
   * Errors before the first byte (401, 404, 422) throw an ApiError.
   */
  async *deltaStream(datasetId, body, signal) {
    const path = `/datasets/${encodeURIComponent(datasetId)}/runs/delta/stream`;
    const response = await this.fetch("POST", path, { body, signal });
    yield* readEvents(response.body);
  }
}
