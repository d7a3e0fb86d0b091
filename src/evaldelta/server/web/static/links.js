// The links the LangSmith SDK prints, read as a view of this page.
//
//   evaluate():           /o/<tenant>/datasets/<dataset>/compare?selectedSessions=<id>
//   pairwise evaluate():  /o/<tenant>/datasets/<dataset>/compare?selectedSessions=<a>%2C<b>
//                           &comparativeExperiment=<id>
//   Dataset.url:          /o/<tenant>/datasets/<dataset>
//
// Several selected sessions: the first is the baseline, the others are compared with it.
// One selected session (what one evaluate() prints): it is compared with the experiment
// on the dataset that started just before it, when there is one. Every feedback key the
// experiments have is ticked, so the comparison runs at once.

const COMPARE = /^\/o\/([^/]+)\/datasets\/([^/]+)\/compare\/?$/;
const DATASET = /^\/o\/([^/]+)\/datasets\/([^/]+)\/?$/;

/**
 * The view an SDK link asks for (a ViewState, see urlstate.js, with two more fields), or
 * null when this address is not one.
 * @returns {null | import("./urlstate.js").ViewState & {previousAsBaseline: boolean, allKeys: boolean}}
 */
export function fromSdkLink(pathname = window.location.pathname, search = window.location.search) {
  const compare = COMPARE.exec(pathname);
  const datasetOnly = DATASET.exec(pathname);
  if (!compare && !datasetOnly) return null;
  const dataset = decodeURIComponent((compare ?? datasetOnly)[2]);
  const params = new URLSearchParams(search);
  const sessions = [
    ...new Set(
      params
        .getAll("selectedSessions")
        .flatMap((value) => value.split(","))
        .map((id) => id.trim())
        .filter(Boolean),
    ),
  ];
  const [first = "", ...rest] = sessions;
  const single = sessions.length === 1;
  return {
    dataset,
    baseline: single ? "" : first,
    comparisons: single ? [first] : rest,
    pairwise: params.get("comparativeExperiment") ?? "",
    keys: [],
    filters: {},
    open: null,
    example: "",
    previousAsBaseline: single,
    allKeys: sessions.length > 0,
  };
}

/**
 * The experiment to compare a lone selected one with: the newest of the others that
 * started before it. `experiments` come newest first, as the API lists them.
 * @param {{id: string, start_time?: string}[]} experiments
 */
export function previousExperiment(experiments, id) {
  const chosen = experiments.find((e) => e.id === id);
  if (!chosen) return "";
  const started = Date.parse(chosen.start_time ?? "");
  const earlier = experiments
    .filter((e) => e.id !== id && Date.parse(e.start_time ?? "") <= started)
    .sort((a, b) => Date.parse(b.start_time ?? "") - Date.parse(a.start_time ?? ""));
  return earlier[0]?.id ?? "";
}

/**
 * Fill the form as an SDK link asks (its dataset is one of this key's) and give the page
 * its own address (/ui?…, which a reload brings back). Resolves with a note for the
 * reader, or "" when the comparison is ready to run.
 * @param {NonNullable<ReturnType<typeof fromSdkLink>>} link
 * @param {import("./api.js").Api} api
 * @param {import("./setup.js").SetupForm} setup
 */
export async function openSdkLink(link, api, setup) {
  let state = link;
  if (link.previousAsBaseline) {
    const experiments = await api.experiments(link.dataset);
    state = { ...link, baseline: previousExperiment(experiments, link.comparisons[0]) };
  }
  window.history.replaceState(null, "", "/ui");
  await setup.restore(state);
  if (state.pairwise && setup.comparative(state.pairwise)) {
    setup.choosePairwise(); // its experiments, and the keys its evaluator wrote
    await setup.loadKeys();
  } else if (state.allKeys) {
    setup.tickAllKeys(true);
  }
  if (!state.baseline && state.comparisons.length > 0) {
    return "This experiment is the first on its dataset: choose a baseline to compare it with.";
  }
  return "";
}
