// Alert queue: filters, keyset pages ("more" follows `next`), sortable columns (sorted by the API: a header
// click asks for the first page in that order, `sort` is kept in the URL with the filters),
// keyboard (↑/↓ or j/k move, Enter opens, a acknowledge, r resolve, d dismiss, s assign, c comment).
"use strict";
(() => {
  const {api, t, el, fmt, kind} = od;
  od.init("alerts", {
    pl: {state: "Stan", severity: "Waga", kind: "Rodzaj", area: "Rejon", assignee: "Przypisany", any: "dowolny",
         open: "otwarty", acknowledged: "potwierdzony", resolved: "rozwiązany", dismissed: "odrzucony", raised: "zgłoszony",
         assigned: "przypisany", commented: "komentarz",
         filter: "Filtruj", opened: "Otwarty", subject: "Dotyczy", address: "Adres", more: "Więcej",
         pick: "Wybierz alarm z listy (Enter).", ack: "Potwierdź (a)", resolve: "Rozwiąż (r)", dismiss: "Odrzuć (d)",
         assign: "Przypisz (s)", comment: "Komentarz (c)", reason: "Powód odrzucenia (fałszywy alarm):",
         who: "Przypisz do (nazwa użytkownika):", text: "Komentarz:", note: "Notatka do rozwiązania (opcjonalnie):",
         meter: "Wodomierz", sp: "Punkt poboru", customer: "Odbiorca", gateway: "Koncentrator", incident: "Zdarzenie",
         evidence: "Dowody", history: "Historia", drill: "Szczegóły punktu poboru", shown: "wyświetlono",
         keys: "Klawisze: ↑↓ j k, Enter, a, r, d, s, c"},
    en: {state: "State", severity: "Severity", kind: "Kind", area: "Area", assignee: "Assignee", any: "any",
         open: "open", acknowledged: "acknowledged", resolved: "resolved", dismissed: "dismissed",
         filter: "Filter", opened: "Opened", subject: "Subject", address: "Address", more: "More",
         pick: "Pick an alert from the list (Enter).", ack: "Acknowledge (a)", resolve: "Resolve (r)",
         dismiss: "Dismiss (d)", assign: "Assign (s)", comment: "Comment (c)", reason: "Reason (false positive):",
         who: "Assign to (user name):", text: "Comment:", note: "Resolution note (optional):", meter: "Meter",
         sp: "Service point", customer: "Customer", gateway: "Gateway", incident: "Incident", evidence: "Evidence",
         history: "History", drill: "Service point drill-down", shown: "shown", keys: "Keys: ↑↓ j k, Enter, a, r, d, s, c"},
  });
  // column -> the API's sort; clicking opened_at again flips newest/oldest first
  const SORTS = {opened_at: ["-opened_at", "opened_at"], severity: ["-severity"], kind: ["kind"], state: ["state"], area: ["area"]};
  const tbody = document.querySelector("#queue tbody");
  const form = document.getElementById("filters");
  let rows = [], next = null, sort = new URLSearchParams(location.search).get("sort") || "-opened_at", current = null;

  const query = () => {
    const q = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    if (sort !== "-opened_at") q.set("sort", sort);
    return q;
  };
  for (const [k, v] of new URLSearchParams(location.search)) if (form.elements[k]) form.elements[k].value = v;
  const pill = (cls, text) => el("span", {class: `pill ${cls}`}, text);
  const meterName = (a) => (a.manufacturer ? `${a.manufacturer} ${a.meter_id}` : null);

  function render() {
    const focused = document.activeElement?.closest?.("#queue tbody tr")?.dataset.id;
    for (const th of document.querySelectorAll("th[data-sort]")) {
      const at = SORTS[th.dataset.sort].indexOf(sort);
      if (at < 0) th.removeAttribute("aria-sort");
      else th.setAttribute("aria-sort", sort.startsWith("-") ? "descending" : "ascending");
    }
    tbody.replaceChildren(...rows.map((a) => {
      const tr = el("tr", {tabindex: 0, "data-id": a.id, class: current && current.id === a.id ? "sel" : null,
                           onclick: () => open(a.id), onkeydown: (e) => e.key === "Enter" && open(a.id)},
        el("td", {}, fmt.dt(a.opened_at)), el("td", {}, pill(`sev-${a.severity}`, kind(a.severity))), el("td", {title: a.kind}, kind(a.kind)),
        el("td", {class: "state"}, pill(`st-${a.state}`, t(a.state))),
        el("td", {}, meterName(a) ?? a.gateway_id ?? a.subject, a.service_point_id ? el("span", {class: "muted"}, ` · ${a.service_point_id}`) : null),
        el("td", {class: "wrap"}, a.address ?? "—"), el("td", {}, a.area ?? "—"), el("td", {}, a.assignee ?? "—"));
      return tr;
    }));
    if (focused) tbody.querySelector(`tr[data-id="${focused}"]`)?.focus();
    document.getElementById("more").hidden = !next;
    document.getElementById("count").textContent = `${fmt.n(rows.length)} ${t("shown")}`;
  }
  async function load(more) {
    const q = query(); q.set("limit", "50");
    if (more && next) q.set("cursor", next);
    const page = await api(`/v1/alerts?${q}`);
    rows = more ? rows.concat(page.items) : page.items;
    next = page.next;
    render();
  }
  const dl = (pairs) => el("dl", {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
  async function open(id) {
    const a = await api(`/v1/alerts/${id}`);
    current = a;
    const box = document.getElementById("detail");
    const done = a.state === "resolved" || a.state === "dismissed";
    box.replaceChildren(
      el("h2", {}, `#${a.id} ${kind(a.kind)} `, pill(`st-${a.state}`, t(a.state))),
      dl([["severity", kind(a.severity)], ["meter", meterName(a)],
          ["sp", a.service_point_id ? el("a", {href: `/ui/service-points/${encodeURIComponent(a.service_point_id)}`}, a.service_point_id) : null],
          ["address", a.address], ["customer", a.customer_ref], ["area", a.area], ["gateway", a.gateway_id],
          ["incident", a.incident_id], ["assignee", a.assignee], ["opened", fmt.dt(a.opened_at)]]),
      el("div", {class: "actions"},
        el("button", {class: "act primary", id: "do-ack", disabled: a.state !== "open", onclick: () => act("ack")}, t("ack")),
        el("button", {class: "act", id: "do-resolve", disabled: done, onclick: () => act("resolve")}, t("resolve")),
        el("button", {class: "act", id: "do-dismiss", disabled: done, onclick: () => act("dismiss")}, t("dismiss")),
        el("button", {class: "act", id: "do-assign", disabled: done, onclick: () => act("assign")}, t("assign")),
        el("button", {class: "act", id: "do-comment", onclick: () => act("comment")}, t("comment"))),
      el("p", {id: "action-error", class: "err"}),
      el("h2", {}, t("evidence")), el("dl", {}, Object.entries(a.evidence).flatMap(([k, v]) => [el("dt", {}, k),
        el("dd", {}, typeof v === "number" ? fmt.n(v, 3) : typeof v === "object" ? JSON.stringify(v) : String(v))])),
      el("h2", {}, t("history")),
      el("ul", {class: "timeline"}, a.history.map((h) => el("li", {}, `${fmt.dt(h.at)} · ${t(h.event)} · ${h.actor}`, h.note ? ` — ${h.note}` : ""))));
    render();
    history.replaceState(null, "", `/ui/alerts/${a.id}${location.search}`);
  }
  async function act(kind) {
    if (!current) return;
    const id = current.id;
    const ask = {dismiss: ["reason", "reason"], assign: ["who", "assignee"], comment: ["text", "text"], resolve: ["note", "note"]}[kind];
    let body = {};
    if (ask) {
      const value = window.prompt(t(ask[0]));
      if (value === null || (kind !== "resolve" && !value.trim())) return;
      if (value.trim()) body = {[ask[1]]: value.trim()};
    }
    const path = kind === "comment" ? "comments" : kind;
    try {
      await api(`/v1/alerts/${id}/${path}`, {method: "POST", body});
      const fresh = await api(`/v1/alerts/${id}`);
      rows = rows.map((r) => (r.id === id ? fresh : r));
      await open(id);
      tbody.querySelector(`tr[data-id="${id}"]`)?.focus();
    } catch (e) { document.getElementById("action-error").textContent = `${t("error")}: ${e.message}`; }
  }
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const trs = [...tbody.querySelectorAll("tr")];
    const at = trs.indexOf(document.activeElement);
    if (e.key === "ArrowDown" || e.key === "j") { (trs[at + 1] || trs[0])?.focus(); e.preventDefault(); }
    else if (e.key === "ArrowUp" || e.key === "k") { (trs[at - 1] || trs[0])?.focus(); e.preventDefault(); }
    else if ((at >= 0 || current) && ({a: "ack", r: "resolve", d: "dismiss", s: "assign", c: "comment"})[e.key]) {
      const id = at >= 0 ? Number(trs[at].dataset.id) : current.id;
      const kind = {a: "ack", r: "resolve", d: "dismiss", s: "assign", c: "comment"}[e.key];
      (current && current.id === id ? Promise.resolve() : open(id)).then(() => act(kind));
    }
  });
  for (const th of document.querySelectorAll("th[data-sort]")) th.addEventListener("click", () => {
    const options = SORTS[th.dataset.sort];
    sort = options[(options.indexOf(sort) + 1) % options.length];
    history.replaceState(null, "", `${location.pathname}?${query()}`);
    load(false).catch((e) => tbody.replaceChildren(el("tr", {}, el("td", {class: "err", colspan: 8}, `${t("error")}: ${e.message}`))));
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); history.replaceState(null, "", `/ui/alerts?${query()}`); load(false); });
  document.getElementById("more").addEventListener("click", () => load(true));
  api("/v1/dashboard/alerts").then((sum) => document.getElementById("kinds").replaceChildren(
    ...Object.keys(sum.by_kind).sort().map((k) => el("option", {value: k}, kind(k))))).catch(() => null);
  const focus = location.pathname.match(/^\/ui\/alerts\/(\d+)$/);
  load(false).then(() => (focus ? open(Number(focus[1])) : null))
    .catch((e) => tbody.replaceChildren(el("tr", {}, el("td", {class: "err", colspan: 8}, `${t("error")}: ${e.message}`))));
})();
