// The comparison page: sign in, choose what to compare, stream the feedback deltas key
// by key, drill into the examples. The view lives in the URL; the API key does not.

import { Api, ApiError } from "./api.js";
import { Comparison } from "./comparison.js";
import { ExamplePanel } from "./examples.js";
import { fromSdkLink, openSdkLink } from "./links.js";
import { PublicApi, shareProblem, shareToken } from "./public.js";
import { ReviewView, reviewQueueId } from "./review.js";
import { SetupForm } from "./setup.js";
import { sendToQueue } from "./sendqueue.js";
import { readState, writeState } from "./urlstate.js";

const KEY_STORAGE = "evaldelta.apiKey";

const $ = (id) => document.getElementById(id);
const ui = {
  alert: $("alert"),
  account: $("account"),
  signin: $("signin"),
  signinForm: $("signin-form"),
  apiKey: $("api-key"),
  workspace: $("workspace"),
  stop: $("stop"),
  copyStatus: $("copy-status"),
  panes: $("panes"),
  results: $("results"),
  resultsTitle: $("results-title"),
  resultsSub: $("results-sub"),
  drill: $("drill"),
  readOnly: $("read-only"),
  review: $("review"),
};

/** @type {Api | null} */
let api = null;
/** @type {Comparison | null} the comparison on screen */
let run = null;
let openCell = null; // {kind, session, key}
let openExample = "";
let returnFocus = null;
/** The view a link printed by the LangSmith SDK asks for, until signing in has used it. */
let sdkLink = fromSdkLink();

const setup = new SetupForm({
  api: () => api,
  report: (err) => report(err),
  onChange: () => syncUrl(),
  onDataset: () => {
    run?.retire();
    run = null;
    ui.results.hidden = true;
    closeDrill({ keepUrl: true });
  },
});

/** The queue this address reviews (/ui/review/<id>), or "". */
const reviewing = reviewQueueId();
const review = new ReviewView(ui.review, { api: () => api, onError: (err) => report(err) });

const panel = new ExamplePanel(ui.drill, {
  api: () => api,
  onExample: (id) => showExample(id),
  onClose: () => closeDrill(),
  onError: (err) => report(err),
  // Scores, not a pairwise judge's preferences, and never in a read-only view.
  actions: (cell) =>
    cell.kind === "regressed" && !cell.pairwise && !(api instanceof PublicApi)
      ? sendToQueue(cell, { api: () => api, onError: report })
      : null,
});

// --- messages -------------------------------------------------------------------------

function showAlert(message) {
  ui.alert.textContent = message;
  ui.alert.hidden = false;
}

function clearAlert() {
  ui.alert.hidden = true;
  ui.alert.textContent = "";
}

/** Every failure becomes a sentence on the page; a rejected key sends you to sign in. */
function report(err) {
  if (err?.name === "AbortError") return;
  if (api instanceof PublicApi && shareProblem(err, "read")) {
    showAlert(shareProblem(err, "read"));
    return;
  }
  if (err instanceof ApiError && err.status === 401) {
    signOut(`${err.message} Sign in again with a valid key.`);
    return;
  }
  showAlert(setup.withNames(err instanceof Error ? err.message : String(err)));
}

// --- signing in -----------------------------------------------------------------------

async function signIn(key) {
  clearAlert();
  ui.signinForm.setAttribute("aria-busy", "true");
  const candidate = new Api(key);
  let datasets;
  try {
    datasets = await candidate.datasets();
  } catch (err) {
    sessionStorage.removeItem(KEY_STORAGE);
    showSignIn();
    const hint = err instanceof ApiError && err.status === 401 ? " Check the key and try again." : "";
    showAlert(`${err instanceof Error ? err.message : String(err)}${hint}`);
    return false;
  } finally {
    ui.signinForm.removeAttribute("aria-busy");
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  api = candidate;
  ui.apiKey.value = "";
  ui.signin.hidden = true;
  ui.account.hidden = false;
  if (reviewing) {
    await review.open(reviewing);
    return true;
  }
  ui.workspace.hidden = false;
  setup.setDatasets(datasets);
  await restore(sdkLink ?? readState());
  return true;
}

function showSignIn() {
  api = null;
  ui.workspace.hidden = true;
  ui.review.hidden = true;
  ui.account.hidden = true;
  ui.signin.hidden = false;
  ui.apiKey.focus();
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  run?.retire();
  run = null;
  closeDrill({ keepUrl: true });
  ui.results.hidden = true;
  showSignIn();
  if (message) showAlert(message);
  else clearAlert();
}

// --- the view in the URL --------------------------------------------------------------

function syncUrl() {
  if (!api) return;
  writeState({ ...setup.selection(), open: openCell, example: openExample });
}

/** Bring back the view a link describes, running the comparison when it is complete. */
async function restore(state) {
  if (!state.dataset) return;
  if (!setup.hasDataset(state.dataset)) {
    showAlert(`The dataset in this link (${state.dataset}) was not found for this API key.`);
    return;
  }
  if (state === sdkLink) {
    sdkLink = null;
    const note = await openSdkLink(state, api, setup);
    if (note) showAlert(note);
  } else {
    await setup.restore(state);
  }
  if (setup.missingChoice()) return;
  await startRun({ focus: false });
  if (state.open && run?.results.has(state.open.key)) {
    await showCell(state.open, null);
    if (state.example) await showExample(state.example);
  }
}

// --- streaming the comparison ---------------------------------------------------------

async function startRun({ focus = true } = {}) {
  const missing = setup.missingChoice();
  if (missing) {
    showAlert(missing[1]);
    missing[0].focus();
    return;
  }
  const sel = setup.selection();
  clearAlert();
  setup.clearInvalid();
  run?.retire();
  closeDrill({ keepUrl: true, restoreFocus: false });
  syncUrl();

  const baseline = setup.experiment(sel.baseline);
  const comparisons = sel.comparisons.map((id) => setup.experiment(id));
  const current = new Comparison({
    keys: sel.keys,
    baseline,
    comparisons,
    pairwise: Boolean(sel.pairwise),
    onOpen: (key, session, kind, from) => showCell({ key, session, kind }, from),
    withNames: (text) => setup.withNames(text),
  });
  run = current;
  const noun = comparisons.length === 1 ? "experiment" : "experiments";
  const pairwise = setup.comparative(sel.pairwise);
  ui.resultsSub.textContent = pairwise
    ? `Pairwise “${pairwise.name ?? pairwise.id}”: ${comparisons.length} ${noun} against the baseline “${baseline.name}”, by the pairwise evaluator's preferences.`
    : `${comparisons.length} ${noun} against the baseline “${baseline.name}”.`;
  ui.results.hidden = false;
  ui.stop.hidden = false;
  if (focus) ui.resultsTitle.focus();

  const body = {
    baseline_session_id: sel.baseline,
    comparison_session_ids: sel.comparisons,
    feedback_keys: sel.keys,
    include_stats: true, // evaldelta's extension; a server without it ignores the field
  };
  if (sel.pairwise) body.comparative_experiment_id = sel.pairwise; // its feedback alone counts
  if (Object.keys(sel.filters).length > 0) {
    body.filters = Object.fromEntries(Object.entries(sel.filters).map(([id, text]) => [id, [text]]));
  }
  const error = await current.read(api.deltaStream(sel.dataset, body, current.controller.signal));
  if (run === current) ui.stop.hidden = true;
  if (error) {
    report(error);
    setup.markInvalidFilters(error);
  } else if (current.state === "cut") {
    showAlert(`The stream ended before every key arrived (${current.arrived.size} of ${current.keys.length}). Try again.`);
  }
}

// --- drilling into examples -----------------------------------------------------------

async function showCell(cell, from) {
  const entry = run?.results.get(cell.key)?.[cell.session];
  if (!entry) return;
  openCell = cell;
  openExample = "";
  syncUrl();
  if (from) returnFocus = from;
  ui.panes.classList.add("with-drill");
  const sel = setup.selection();
  const loading = panel.showCell({
    key: cell.key,
    kind: cell.kind,
    comparison: setup.experiment(cell.session),
    baseline: setup.experiment(sel.baseline),
    ids: entry[`${cell.kind}_examples`] ?? [],
    filters: sel.filters,
    pairwise: sel.pairwise,
  });
  // The panel is open (its inputs still loading): focus it now, so Escape works at once.
  panel.focusTitle();
  ui.drill.scrollIntoView({ block: "nearest" });
  await loading;
}

async function showExample(id) {
  openExample = id;
  syncUrl();
  await panel.showExample(id);
}

function closeDrill({ keepUrl = false, restoreFocus = true } = {}) {
  const wasOpen = !ui.drill.hidden;
  panel.close();
  ui.panes.classList.remove("with-drill");
  openCell = null;
  openExample = "";
  if (!keepUrl) syncUrl();
  if (wasOpen && restoreFocus && returnFocus?.isConnected) returnFocus.focus();
  returnFocus = null;
}

// --- wiring ---------------------------------------------------------------------------

ui.signinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ui.apiKey.value.trim();
  if (!key) {
    showAlert("Enter an API key to sign in.");
    ui.apiKey.focus();
    return;
  }
  signIn(key)
    .then((ok) => {
      if (ok && !setup.selection().dataset) setup.dataset.focus();
    })
    .catch(report);
});

$("sign-out").addEventListener("click", () => signOut());

setup.form.addEventListener("submit", (event) => {
  event.preventDefault();
  startRun().catch(report);
});

ui.stop.addEventListener("click", () => run?.abort());

$("copy-link").addEventListener("click", async () => {
  syncUrl();
  try {
    await navigator.clipboard.writeText(window.location.href);
    ui.copyStatus.textContent = "Link copied (it holds the view, not your key).";
  } catch {
    ui.copyStatus.textContent = "Copy the address bar: it holds this view (not your key).";
  }
});

// Nothing may end as a blank page: anything unexpected becomes a visible message.
window.addEventListener("unhandledrejection", (event) => report(event.reason));
window.addEventListener("error", (event) => showAlert(`Something went wrong in the page: ${event.message}`));

// --- the read-only view of a share link ------------------------------------------------

/** No key and nothing that writes: the shared dataset through its public routes only. */
async function openShared(token) {
  ui.readOnly.hidden = false;
  const shared = new PublicApi(token);
  let datasets;
  try {
    datasets = await shared.datasets();
  } catch (err) {
    showAlert(shareProblem(err, "dataset") || (err instanceof Error ? err.message : String(err)));
    return;
  }
  api = shared;
  ui.workspace.hidden = false;
  setup.setDatasets(datasets);
  setup.dataset.disabled = true; // one dataset: the shared one
  await restore({ ...readState(), dataset: datasets[0].id });
}

const token = shareToken();
const stored = sessionStorage.getItem(KEY_STORAGE);
if (token) openShared(token).catch(report);
else if (stored) signIn(stored).catch(report);
else showSignIn();
