// Annotation queues as LangSmith's API has them (/annotation-queues…), for the page's
// "send regressed to a queue" action and its review view.

const PAGE = 100;

/** @typedef {import("./api.js").Api} Api */

/** The tenant's queues (all pages). */
export function listQueues(api) {
  return api.all("/annotation-queues");
}

/** One queue with its rubric (`rubric_instructions`, `rubric_items`). */
export function readQueue(api, queueId) {
  return api.json("GET", `/annotation-queues/${encodeURIComponent(queueId)}`);
}

/** The queue named `name`, made (with `keys` as its rubric) when there is none. */
export async function queueNamed(api, name, { keys, description }) {
  const found = (await api.json("GET", "/annotation-queues", { query: { name, limit: PAGE } })).find(
    (q) => q.name === name,
  );
  if (found) return { queue: found, created: false };
  const body = {
    id: crypto.randomUUID(),
    name,
    description,
    rubric_items: keys.map((key) => ({ feedback_key: key })),
  };
  return { queue: await api.json("POST", "/annotation-queues", { body }), created: true };
}

/** Add runs, in this order, to a queue. */
export function addRuns(api, queueId, runIds) {
  return api.json("POST", `/annotation-queues/${encodeURIComponent(queueId)}/runs`, { body: runIds });
}

/** Every item of a queue: runs with `queue_run_id`, `added_at`, `last_reviewed_time`. */
export async function queueRuns(api, queueId) {
  const rows = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await api.json("GET", `/annotation-queues/${encodeURIComponent(queueId)}/runs`, {
      query: { offset, limit: PAGE },
    });
    rows.push(...page);
    if (page.length < PAGE) return rows;
  }
}

/** Mark one item reviewed now. */
export function markReviewed(api, queueId, queueRunId) {
  const path = `/annotation-queues/${encodeURIComponent(queueId)}/runs/${encodeURIComponent(queueRunId)}`;
  return api.json("PATCH", path, { body: { last_reviewed_time: new Date().toISOString() } });
}

/** The root runs of one experiment on many examples (every page of /runs/query). */
export async function rootRunsOf(api, sessionId, exampleIds, filter) {
  const runs = [];
  for (let i = 0; i < exampleIds.length; i += PAGE) {
    let cursor = null;
    do {
      const body = {
        session: [sessionId],
        reference_example: exampleIds.slice(i, i + PAGE),
        is_root: true,
        limit: PAGE,
      };
      if (filter && filter.trim()) body.filter = filter;
      if (cursor) body.cursor = cursor;
      const page = await api.json("POST", "/runs/query", { body });
      runs.push(...page.runs);
      cursor = page.cursors?.next ?? null;
    } while (cursor);
  }
  return runs;
}

/**
 * The runs to send for the examples that regressed, paired: for each example, the
 * baseline's runs then the comparison's (repetitions included), in the examples' order.
 */
export async function pairedRuns(api, { baseline, comparison, exampleIds, filters }) {
  const [base, comp] = await Promise.all([
    rootRunsOf(api, baseline, exampleIds, filters[baseline]),
    rootRunsOf(api, comparison, exampleIds, filters[comparison]),
  ]);
  const byExample = (runs) => {
    const out = new Map();
    for (const run of runs) {
      const id = String(run.reference_example_id);
      out.set(id, [...(out.get(id) ?? []), run]);
    }
    return out;
  };
  const baseBy = byExample(base);
  const compBy = byExample(comp);
  return exampleIds.flatMap((id) => [...(baseBy.get(id) ?? []), ...(compBy.get(id) ?? [])].map((r) => r.id));
}
