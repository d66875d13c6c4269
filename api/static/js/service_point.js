// Service point drill-down: address and customer, consumption chart (hour/day/month, uPlot), installations
// and replacements with legalization, receptions by gateway with RSSI, alert timeline, newest readings.
"use strict";
(() => {
  const {api, t, el, fmt, kind} = od;
  od.init("sp", {
    pl: {consumption: "Zużycie [m³]", hour: "godziny (7 dni)", day: "dni (60 dni)", month: "miesiące (13 mies.)",
         installations: "Montaże i wymiany", meter: "Wodomierz", installed: "Zamontowany", removed: "Zdemontowany",
         initial: "Stan początkowy", legal: "Ważność legalizacji", receptions: "Odbiór przez koncentratory (7 dni)",
         gateway: "Koncentrator", frames: "Ramki", rssi: "RSSI mediana", rssiMax: "RSSI maks.", lastHeard: "Ostatnio",
         timeline: "Alarmy", readings: "Odczyty", measured: "Pomiar", total: "Stan [m³]", flow: "Przepływ [m³/h]",
         backward: "Wsteczny [m³]", basis: "Podstawa", alarms: "Alarmy", address: "Adres", customer: "Odbiorca",
         area: "Rejon", position: "Położenie", sp: "Punkt poboru", usual: "zwykły", best: "najlepszy",
         actual: "rzeczywiste", estimated: "szacowane", noData: "brak danych", period: "Okres", open: "otwarty",
         acknowledged: "potwierdzony", resolved: "rozwiązany", dismissed: "odrzucony"},
    en: {consumption: "Consumption [m³]", hour: "hours (7 days)", day: "days (60 days)", month: "months (13 mo.)",
         installations: "Installations and replacements", meter: "Meter", installed: "Installed", removed: "Removed",
         initial: "Initial reading", legal: "Legalization valid until", receptions: "Receptions by gateway (7 days)",
         gateway: "Gateway", frames: "Frames", rssi: "Median RSSI", rssiMax: "Max RSSI", lastHeard: "Last heard",
         timeline: "Alerts", readings: "Readings", measured: "Measured", total: "Total [m³]", flow: "Flow [m³/h]",
         backward: "Backward [m³]", basis: "Basis", alarms: "Alarms", address: "Address", customer: "Customer",
         area: "Area", position: "Position", sp: "Service point", usual: "usual", best: "best",
         actual: "actual", estimated: "estimated", noData: "no data", period: "Period", open: "open",
         acknowledged: "acknowledged", resolved: "resolved", dismissed: "dismissed"},
  });
  const id = decodeURIComponent(location.pathname.split("/").pop());
  const RANGE = {hour: 7, day: 60, month: 400};
  let plot = null;
  window.odczytChart = {drawn: false, points: 0};  // read by the browser tests

  async function chart(interval) {
    for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-pressed", String(b.dataset.iv === interval));
    const to = new Date(), from = new Date(to - RANGE[interval] * 86400e3);
    const q = new URLSearchParams({from: from.toISOString(), to: to.toISOString(), interval, limit: "10000"});
    const body = await api(`/v1/service-points/${encodeURIComponent(id)}/consumption?${q}`);
    const xs = body.items.map((p) => Date.parse(p.start) / 1000);
    const actual = body.items.map((p) => p.actual_m3), est = body.items.map((p) => p.estimated_m3 || null);
    const box = document.getElementById("chart");
    if (plot) plot.destroy();
    box.replaceChildren();
    if (!xs.length) { box.append(el("p", {class: "muted"}, t("noData"))); window.odczytChart = {drawn: true, points: 0}; return; }
    const bars = uPlot.paths.bars({size: [0.8, 40]}), axisFmt = od.axis(interval);
    plot = new uPlot({width: Math.max(280, box.clientWidth - 8), height: 260, series: [
      {label: t("period"), value: (u, v) => (v ? axisFmt(u, [v])[0] : "--")},
      {label: t("actual"), fill: "#0b63b680", stroke: "#0b63b6", paths: bars, points: {show: false}},
      {label: t("estimated"), fill: "#d9820080", stroke: "#d98200", paths: bars, points: {show: false}}],
      axes: [{values: axisFmt, space: interval === "hour" ? 110 : 60}, {size: 60}]}, [xs, actual, est], box);
    window.odczytChart = {drawn: true, points: xs.length};
  }
  const legal = (d) => {
    if (!d) return "—";
    const days = (Date.parse(d) - Date.now()) / 86400e3;
    return el("span", {class: `pill ${days < 0 ? "sev-critical" : days < 90 ? "sev-warning" : "sev-info"}`}, fmt.d(d));
  };
  async function load() {
    const d = await api(`/v1/ui/service-points/${encodeURIComponent(id)}`);
    const sp = d.service_point;
    document.getElementById("title").textContent = `${t("sp")} ${sp.id}`;
    const cur = d.installations.find((i) => !i.removed_at);
    document.getElementById("info").replaceChildren(el("dl", {}, [["address", sp.address], ["customer", sp.customer_ref],
      ["area", sp.area], ["meter", cur ? `${cur.manufacturer} ${cur.meter_id} (${cur.model ?? "?"}, ${cur.read_mode})` : null],
      ["legal", cur ? legal(cur.legal_valid_until) : null],
      ["position", sp.lat !== null ? `${sp.lat.toFixed(5)}, ${sp.lon.toFixed(5)}` : null]]
      .flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v ?? "—")])));
    document.querySelector("#inst tbody").replaceChildren(...d.installations.map((i) => el("tr", {},
      el("td", {}, `${i.manufacturer} ${i.meter_id}`), el("td", {}, fmt.dt(i.installed_at)), el("td", {}, fmt.dt(i.removed_at)),
      el("td", {class: "num"}, fmt.n(i.initial_m3, 3)), el("td", {}, legal(i.legal_valid_until)))));
    document.querySelector("#rx tbody").replaceChildren(...d.receptions.map((r) => el("tr", {},
      el("td", {}, r.gateway_id), el("td", {class: "num"}, fmt.n(r.frames)), el("td", {class: "num"}, fmt.n(r.median_rssi_dbm, 1)),
      el("td", {class: "num"}, fmt.n(r.max_rssi_dbm, 1)), el("td", {}, fmt.dt(r.last_heard_at)),
      el("td", {}, [r.usual ? t("usual") : "", r.best ? t("best") : ""].filter(Boolean).join(", ")))));
    document.getElementById("alerts").replaceChildren(...(d.alerts.length ? d.alerts.map((a) => el("li", {},
      `${fmt.dt(a.opened_at)} · `, el("a", {href: a.links.ui}, kind(a.kind)), ` · `, el("span", {class: `pill st-${a.state}`}, t(a.state)),
      a.resolved_at ? ` → ${fmt.dt(a.resolved_at)}` : "", a.assignee ? ` · ${a.assignee}` : "")) : [el("li", {class: "muted"}, t("noData"))]));
    document.querySelector("#readings tbody").replaceChildren(...d.readings.map((r) => el("tr", {},
      el("td", {}, fmt.dt(r.measured_at)), el("td", {}, `${r.manufacturer} ${r.meter_id}`), el("td", {class: "num"}, fmt.n(r.total_m3, 3)),
      el("td", {class: "num"}, fmt.n(r.flow_m3h, 3)), el("td", {class: "num"}, fmt.n(r.backward_m3, 3)), el("td", {}, r.basis),
      el("td", {class: "num"}, r.alarms ? `0x${r.alarms.toString(16)}` : ""))));
  }
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => chart(b.dataset.iv));
  window.addEventListener("resize", () => {
    const box = document.getElementById("chart");
    if (plot) plot.setSize({width: Math.max(280, box.clientWidth - 8), height: 260});
  });
  load().catch((e) => document.getElementById("title").replaceChildren(el("span", {class: "err"}, `${t("error")}: ${e.message}`)));
  chart("day").catch((e) => document.getElementById("chart").replaceChildren(el("p", {class: "err"}, e.message)));
})();
