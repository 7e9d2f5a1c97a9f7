// The routing playground of `herd serve`: routes a prompt (POST /v1/route), draws every expert's
// routing score (probability or distance) and weight, streams the answer (POST /v1/chat/completions), and polls the recent
// decisions (GET /v1/route/recent). Plain DOM, no build step, no inline code (strict CSP).

const KEY_STORAGE = "herd.apiKey";
const RECENT_EVERY_MS = 3000;

const $ = (id) => document.getElementById(id);
const state = { baseModel: undefined, busy: false, recentTimer: undefined };

/** A fetch to Herd's API with the stored key, if any. */
function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.set("authorization", `Bearer ${key}`);
  if (init.body) headers.set("content-type", "application/json");
  return fetch(path, { ...init, headers });
}

/** The error message of an OpenAI-style error body, or the status line. */
async function failure(res) {
  try {
    const body = await res.json();
    if (body?.error?.message) return body.error.message;
  } catch {
    // not JSON: fall through to the status
  }
  return `${res.status} ${res.statusText}`;
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Fills the expert picker from GET /v1/models: `herd:<expert>` entries, and the base model. */
async function loadModels() {
  const res = await api("/v1/models");
  if (res.status === 401) {
    setStatus(
      sessionStorage.getItem(KEY_STORAGE)
        ? "The server refused this API key: check it (the --api-key given to herd serve) and press Use."
        : "This server needs an API key: enter it above.",
      true,
    );
    return false;
  }
  if (!res.ok) {
    setStatus(`Cannot list the models: ${await failure(res)}`, true);
    return false;
  }
  const { data } = await res.json();
  const select = $("expert");
  for (const option of [...select.options].slice(1)) option.remove();
  for (const { id } of data) {
    if (id.startsWith("herd:")) select.append(new Option(id.slice(5), id.slice(5)));
    else if (id !== "herd") state.baseModel = id;
  }
  setStatus("");
  return true;
}

/** The model name that asks for what the controls say: routed, a forced expert, or the base. */
function requestedModel() {
  if ($("base-only").checked) return state.baseModel ?? "herd";
  const expert = $("expert").value;
  return expert ? `herd:${expert}` : "herd";
}

/**
 * Draws one row per ranked expert: its routing score and its blend weight as bars. The score is
 * what the strategy ranks by: the calibrated probability with `linear`, the distance otherwise.
 */
function drawBars(decision) {
  const bars = $("bars");
  bars.replaceChildren();
  const ranked = decision.ranked ?? [];
  const linear = decision.strategy === "linear";
  $("score-label").textContent = linear ? "probability (calibrated)" : "distance (shorter is closer)";
  // The `herd` block carries distances; with `linear` a distance is 1 - the probability.
  const scoreOf = (expert) => (linear ? 1 - expert.distance : expert.distance);
  const maxScore = linear ? 1 : Math.max(1e-9, ...ranked.map(scoreOf));
  const selected = new Map((decision.selected ?? []).map((e) => [e.name, e.weight]));
  for (const expert of ranked) {
    const weight = selected.get(expert.name) ?? 0;
    const row = el("li", weight > 0 ? "bar selected" : "bar");
    row.dataset.expert = expert.name;
    row.append(el("span", "name", expert.name));
    const score = scoreOf(expert);
    for (const [kind, share, label] of [
      ["score", score / maxScore, `${linear ? "p" : "d"} ${score.toFixed(3)}`],
      ["weight", weight, weight.toFixed(2)],
    ]) {
      const track = el("div", "track");
      const fill = el("div", `fill ${kind}`);
      fill.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
      track.append(fill);
      row.append(track, el("span", `value ${kind}`, label));
    }
    bars.append(row);
  }
}

function describeDecision(decision, model) {
  const chosen = $("chosen");
  chosen.replaceChildren();
  const experts = (decision.selected ?? []).map((e) => `${e.name} ${(e.weight * 100).toFixed(0)}%`);
  const adapters = (decision.adapters ?? []).map((a) => `${a.expert} ×${a.scale.toFixed(2)}`);
  chosen.append(
    "Model ",
    el("strong", "model", model),
    adapters.length ? ` with adapters ${adapters.join(" + ")}` : "",
    ` · ${experts.length ? experts.join(" + ") : "base model"} · ${decision.reason}`,
    el("span", "timing", ` · routing took ${decision.timings.totalMs.toFixed(2)} ms`),
  );
}

/** Reads server-sent events from a fetch response, calling `onData` with each parsed `data:` object. */
async function readEvents(res, onData) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function ask(event) {
  event.preventDefault();
  if (state.busy) return;
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  state.busy = true;
  $("send").disabled = true;
  $("answer").textContent = "";
  const model = requestedModel();
  const topExperts = Number($("top-experts").value) || 1;
  const messages = [{ role: "user", content: prompt }];
  try {
    setStatus("Routing...");
    const routed = await api("/v1/route", {
      method: "POST",
      body: JSON.stringify({ model, messages, top_experts: topExperts }),
    });
    if (!routed.ok) throw new Error(await failure(routed));
    const decision = await routed.json();
    drawBars(decision);
    describeDecision(decision, decision.model);

    setStatus("Generating...");
    const res = await api("/v1/chat/completions", {
      method: "POST",
      body: JSON.stringify({
        model,
        messages,
        stream: true,
        top_experts: topExperts,
        max_tokens: Number($("max-tokens").value) || 64,
      }),
    });
    if (!res.ok) throw new Error(await failure(res));
    const answer = $("answer");
    await readEvents(res, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      // The decision this generation ran with (after any fallback), as the first chunk reports it.
      if (chunk.herd) {
        const ran = { ...decision, ...chunk.herd, selected: chunk.herd.experts };
        drawBars(ran);
        describeDecision(ran, chunk.herd.model);
      }
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) answer.textContent += text;
    });
    setStatus("Done.");
  } catch (error) {
    setStatus(error instanceof Error ? error.message : String(error), true);
  } finally {
    state.busy = false;
    $("send").disabled = false;
    refreshRecent();
  }
}

/** Shows the latest finished requests (from the metrics plugin), newest first. */
async function refreshRecent() {
  const res = await api("/v1/route/recent").catch(() => undefined);
  const note = $("recent-note");
  if (!res?.ok) {
    note.textContent =
      res?.status === 404 ? "Recent requests need the metrics plugin (herd serve adds it)." : "";
    return;
  }
  const { data } = await res.json();
  const rows = data.map((d) => {
    const row = el("tr");
    const experts = d.experts.map((e) => `${e.name} ${(e.weight * 100).toFixed(0)}%`).join(" + ");
    row.append(
      el("td", "", new Date(d.at).toLocaleTimeString()),
      el("td", "", experts || "base"),
      el("td", "", d.reason),
      el("td", "", d.model),
      el("td", "num", d.status),
      el("td", "num", d.durationMs.toFixed(1)),
    );
    return row;
  });
  $("recent").replaceChildren(...rows);
  note.textContent = data.length === 0 ? "No requests yet." : "";
}

function startRecent() {
  clearInterval(state.recentTimer);
  refreshRecent();
  state.recentTimer = setInterval(() => {
    if (document.visibilityState === "visible") refreshRecent();
  }, RECENT_EVERY_MS);
}

async function useKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  if (await loadModels()) startRecent();
}

function init() {
  $("api-key").value = sessionStorage.getItem(KEY_STORAGE) ?? "";
  $("key-form").addEventListener("submit", useKey);
  $("ask-form").addEventListener("submit", ask);
  $("base-only").addEventListener("change", () => {
    $("expert").disabled = $("base-only").checked;
  });
  loadModels().then((ok) => ok && startRecent());
}

init();
