// odczyt dashboard: what every page shares — API calls with the session cookie (CSRF token on writes),
// a 401 sends to /login, the header with navigation and the PL/EN switch (remembered in localStorage).
"use strict";
const od = (() => {
  const COMMON = {
    pl: {overview: "Przegląd", map: "Mapa", alerts: "Alarmy", gateways: "Koncentratory", logout: "Wyloguj",
         lang: "EN", loading: "Wczytywanie…", error: "Błąd", none: "brak", yes: "tak", no: "nie"},
    en: {overview: "Overview", map: "Map", alerts: "Alerts", gateways: "Gateways", logout: "Log out",
         lang: "PL", loading: "Loading…", error: "Error", none: "none", yes: "yes", no: "no"},
  };
  // alert kinds and severities in the dispatcher's words (an unknown kind shows as its code)
  const KINDS = {
    pl: {continuous_flow: "ciągły przepływ (wyciek)", night_flow: "przepływ nocny", burst: "pęknięcie / awaria",
         reverse_flow: "przepływ wsteczny", silent: "brak odczytów", stuck: "wodomierz stoi",
         never_heard: "nigdy nieodebrany", legalization_due: "legalizacja: zbliża się termin",
         legalization_expired: "legalizacja: po terminie", gateway_offline: "koncentrator offline",
         gateway_degraded: "koncentrator: problemy", anomaly: "nietypowe zużycie", tamper: "ingerencja",
         critical: "krytyczny", warning: "ostrzeżenie", info: "informacja"},
    en: {continuous_flow: "continuous flow (leak)", night_flow: "night flow", burst: "burst",
         reverse_flow: "reverse flow", silent: "silent", stuck: "stuck meter", never_heard: "never heard",
         legalization_due: "legalization due", legalization_expired: "legalization expired",
         gateway_offline: "gateway offline", gateway_degraded: "gateway degraded", anomaly: "unusual consumption",
         tamper: "tamper", critical: "critical", warning: "warning", info: "info"},
  };
  const kind = (k) => KINDS[lang()][k] ?? k;
  let dict = {pl: {}, en: {}};
  let csrf = sessionStorage.getItem("odczyt_csrf");
  const lang = () => (localStorage.getItem("odczyt_lang") === "en" ? "en" : "pl");
  const t = (key) => dict[lang()][key] ?? COMMON[lang()][key] ?? key;
  const el = (tag, attrs = {}, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) node.append(kid instanceof Node ? kid : String(kid));
    return node;
  };
  async function api(path, opts = {}) {
    const headers = {Accept: "application/json", ...(opts.body ? {"Content-Type": "application/json"} : {})};
    if (opts.method && opts.method !== "GET") {
      if (!csrf) csrf = (await api("/v1/session")).csrf_token;
      headers["X-CSRF-Token"] = csrf;
    }
    const resp = await fetch(path, {method: opts.method || "GET", headers, credentials: "same-origin",
                                    body: opts.body ? JSON.stringify(opts.body) : undefined});
    if (resp.status === 401) { window.location.assign("/login"); throw new Error("401"); }
    const body = resp.headers.get("content-type")?.includes("json") ? await resp.json() : await resp.text();
    if (!resp.ok) throw new Error(`${resp.status}: ${body.detail || body.title || JSON.stringify(body)}`);
    return body;
  }
  const fmt = {
    n: (v, d = 0) => (v === null || v === undefined ? "—" : Number(v).toLocaleString(lang() === "pl" ? "pl-PL" : "en-GB", {maximumFractionDigits: d, minimumFractionDigits: d})),
    pct: (v) => (v === null || v === undefined ? "—" : (100 * v).toLocaleString(lang() === "pl" ? "pl-PL" : "en-GB", {maximumFractionDigits: 1}) + " %"),
    dt: (v) => (v ? new Date(v).toLocaleString(lang() === "pl" ? "pl-PL" : "en-GB", {dateStyle: "short", timeStyle: "short"}) : "—"),
    d: (v) => (v ? new Date(v).toLocaleDateString(lang() === "pl" ? "pl-PL" : "en-GB") : "—"),
  };
  // uPlot x-axis labels in the page's language: "time" (HH:MM), "hour" (dd.mm HH:00), "day", "month"
  const axis = (mode) => (u, vals) => vals.map((v) => {
    const d = new Date(v * 1000), loc = lang() === "pl" ? "pl-PL" : "en-GB";
    if (mode === "time") return d.toLocaleTimeString(loc, {hour: "2-digit", minute: "2-digit"});
    if (mode === "hour") return d.toLocaleString(loc, {day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit"});
    if (mode === "month") return d.toLocaleDateString(loc, {month: "2-digit", year: "numeric"});
    return d.toLocaleDateString(loc, {day: "2-digit", month: "2-digit"});
  });
  function header(active) {
    const links = [["overview", "/"], ["map", "/ui/map"], ["alerts", "/ui/alerts"], ["gateways", "/ui/gateways"]];
    const who = el("span", {class: "who", id: "who"});
    const bar = el("header", {},
      el("span", {class: "brand"}, "odczyt"),
      el("nav", {}, links.map(([k, href]) => el("a", {href, "aria-current": k === active ? "page" : null}, t(k)))),
      who,
      el("button", {id: "lang", title: "język / language", onclick: () => {
        localStorage.setItem("odczyt_lang", lang() === "pl" ? "en" : "pl"); window.location.reload(); }}, t("lang")),
      el("button", {id: "logout", onclick: async () => { await api("/v1/session", {method: "DELETE"}).catch(() => null);
        sessionStorage.removeItem("odczyt_csrf"); window.location.assign("/login"); }}, t("logout")));
    document.body.prepend(bar);
    document.documentElement.lang = lang();
    api("/v1/session").then((s) => { csrf = s.csrf_token || csrf; if (csrf) sessionStorage.setItem("odczyt_csrf", csrf);
      who.textContent = `${s.actor} (${s.role})`; }).catch(() => null);
  }
  // Fill every element carrying data-i18n with its translation.
  function translate(root = document) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  }
  function init(active, pageDict) {
    dict = pageDict;
    header(active);
    translate();
    document.title = `odczyt — ${t(active)}`;
  }
  return {api, t, el, fmt, init, translate, lang, kind, axis};
})();
