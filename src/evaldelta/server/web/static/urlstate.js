// The view's shareable state in the query string, so that a link reproduces it.
// Never the API key: that stays in session storage.
//
//   ?dataset=<id>&pairwise=<id>&baseline=<id>&compare=<id>&compare=<id>&key=correct&key=latency
//    &filter=<session id>:<filter expression>&open=<improved|regressed>:<session id>:<key>
//    &example=<id>

const KINDS = new Set(["improved", "regressed"]);

/**
 * @typedef {{
 *   dataset: string, pairwise: string, baseline: string, comparisons: string[], keys: string[],
 *   filters: Record<string, string>,
 *   open: {kind: string, session: string, key: string} | null,
 *   example: string,
 * }} ViewState
 */

/** @returns {ViewState} */
export function readState(search = window.location.search) {
  const params = new URLSearchParams(search);
  const filters = {};
  for (const item of params.getAll("filter")) {
    const colon = item.indexOf(":");
    if (colon > 0 && item.slice(colon + 1).trim()) {
      filters[item.slice(0, colon)] = item.slice(colon + 1);
    }
  }
  let open = null;
  const cell = params.get("open");
  if (cell) {
    // The key comes last: it is the only part that may itself contain a colon.
    const [kind, session, ...rest] = cell.split(":");
    if (KINDS.has(kind) && session && rest.length > 0) open = { kind, session, key: rest.join(":") };
  }
  return {
    dataset: params.get("dataset") ?? "",
    pairwise: params.get("pairwise") ?? "",
    baseline: params.get("baseline") ?? "",
    comparisons: unique(params.getAll("compare")),
    keys: unique(params.getAll("key")),
    filters,
    open,
    example: open ? (params.get("example") ?? "") : "",
  };
}

/** The query string of a state (no leading "?"). */
export function encodeState(state) {
  const params = new URLSearchParams();
  if (state.dataset) params.set("dataset", state.dataset);
  if (state.pairwise) params.set("pairwise", state.pairwise);
  if (state.baseline) params.set("baseline", state.baseline);
  for (const id of state.comparisons ?? []) params.append("compare", id);
  for (const key of state.keys ?? []) params.append("key", key);
  for (const [session, text] of Object.entries(state.filters ?? {})) {
    if (text.trim()) params.append("filter", `${session}:${text}`);
  }
  if (state.open) {
    params.set("open", `${state.open.kind}:${state.open.session}:${state.open.key}`);
    if (state.example) params.set("example", state.example);
  }
  return params.toString();
}

/** Put a state in the address bar without adding a history entry. */
export function writeState(state) {
  const query = encodeState(state);
  const url = `${window.location.pathname}${query ? `?${query}` : ""}`;
  if (url !== `${window.location.pathname}${window.location.search}`) {
    window.history.replaceState(null, "", url);
  }
}

function unique(values) {
  return [...new Set(values.filter(Boolean))];
}
