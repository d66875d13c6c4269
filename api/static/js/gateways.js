// Gateways (state, last seen, frames/min, spool, coverage) and pipeline health (frames per minute, undecoded
// frames by reason, dead letters, ingest lag).
"use strict";
(() => {
  const {api, t, el, fmt} = od;
  od.init("gateways", {
    pl: {gateways: "Koncentratory", id: "Koncentrator", state: "Stan", lastSeen: "Ostatnio", fpm: "Ramki/min",
         spool: "Bufor (spool)", coverage: "Wodomierze (7 dni)", alerts: "Alarmy", receiver: "Odbiornik",
         firmware: "Oprogramowanie", pipeline: "Stan przetwarzania", fpmChart: "Ramki na minutę (60 min)",
         errors: "Ramki niezdekodowane (24 h)", status: "Status", reason: "Przyczyna", frames: "Ramki",
         dead: "Wiadomości odrzucone", messages: "Wiadomości", lag: "Opóźnienie zapisu", fpmNow: "Ramki/min (ost. pełna min.)",
         undecoded: "Niezdekodowane (24 h)", deadTotal: "Odrzucone", time: "Czas", online: "online", offline: "offline", noData: "brak"},
    en: {gateways: "Gateways", id: "Gateway", state: "State", lastSeen: "Last seen", fpm: "Frames/min",
         spool: "Spool depth", coverage: "Meters (7 days)", alerts: "Alerts", receiver: "Receiver",
         firmware: "Firmware", pipeline: "Pipeline health", fpmChart: "Frames per minute (60 min)",
         errors: "Undecoded frames (24 h)", status: "Status", reason: "Reason", frames: "Frames",
         dead: "Dead letters", messages: "Messages", lag: "Ingest lag", fpmNow: "Frames/min (last full min.)",
         undecoded: "Undecoded (24 h)", deadTotal: "Dead letters", time: "Time", online: "online", offline: "offline", noData: "none"},
  });
  let plot = null;
  const empty = (n) => [el("tr", {}, el("td", {colspan: n, class: "muted"}, t("noData")))];
  async function load() {
    const [gws, cov, p] = await Promise.all([api("/v1/gateways?limit=1000"), api("/v1/ui/gateway-coverage"), api("/v1/ui/pipeline")]);
    const heard = Object.fromEntries(cov.items.map((c) => [c.id, c.meters_heard]));
    document.querySelector("#gw tbody").replaceChildren(...(gws.items.length ? gws.items.map((g) => el("tr", {},
      el("td", {}, g.id), el("td", {}, el("span", {class: `pill ${g.state === "online" ? "sev-info" : "sev-critical"}`}, t(g.state)), g.reason ? ` ${g.reason}` : ""),
      el("td", {}, fmt.dt(g.last_seen_at)), el("td", {class: "num"}, fmt.n(g.frames_per_min, 1)),
      el("td", {class: "num"}, g.spool_max ? `${fmt.n(g.spool_depth)} / ${fmt.n(g.spool_max)}` : fmt.n(g.spool_depth)),
      el("td", {class: "num"}, fmt.n(heard[g.id] ?? 0)),
      el("td", {class: "num"}, g.open_alerts ? el("a", {href: `/ui/alerts?state=open`}, fmt.n(g.open_alerts)) : "0"),
      el("td", {}, [g.receiver, g.link_mode].filter(Boolean).join(" / ") || "—"), el("td", {}, g.firmware ?? "—"))) : empty(9)));
    const series = p.frames_per_minute;
    const last = series.length > 1 ? series[series.length - 2][1] : series.length ? series[0][1] : 0;
    const undecoded = p.decode_errors.reduce((s, e) => s + e.frames, 0);
    const dead = p.dead_letters.reduce((s, d) => s + Number(d.messages), 0);
    const lag = p.lag_s === null ? "—" : p.lag_s < 120 ? `${fmt.n(p.lag_s)} s` : `${fmt.n(p.lag_s / 60)} min`;
    document.getElementById("kpis").replaceChildren(...[["fpmNow", fmt.n(last)], ["lag", lag], ["undecoded", fmt.n(undecoded)],
      ["deadTotal", fmt.n(dead)]].map(([k, v]) => el("div", {class: "card kpi"}, el("div", {class: "v"}, v), el("div", {class: "l"}, t(k)))));
    document.querySelector("#errors tbody").replaceChildren(...(p.decode_errors.length ? p.decode_errors.map((e) => el("tr", {},
      el("td", {}, e.status), el("td", {style: "white-space:normal"}, e.reason || "—"), el("td", {class: "num"}, fmt.n(e.frames)))) : empty(3)));
    document.querySelector("#dead tbody").replaceChildren(...(p.dead_letters.length ? p.dead_letters.map((d) => el("tr", {},
      el("td", {}, d.reason), el("td", {class: "num"}, fmt.n(d.messages)), el("td", {}, fmt.dt(d.last_seen)))) : empty(3)));
    const box = document.getElementById("chart");
    if (plot) plot.destroy();
    plot = new uPlot({width: Math.max(280, box.clientWidth - 8), height: 220,
      series: [{label: t("time"), value: (u, v) => (v ? new Date(v * 1000).toLocaleTimeString() : "--")},
               {label: t("fpm"), stroke: "#0b63b6", fill: "#0b63b630", points: {show: false}}],
      axes: [{values: od.axis("time")}, {size: 50}]},
      [series.map((s) => s[0]), series.map((s) => s[1])], box);
  }
  window.addEventListener("resize", () => {
    const box = document.getElementById("chart");
    if (plot) plot.setSize({width: Math.max(280, box.clientWidth - 8), height: 220});
  });
  load().catch((e) => document.getElementById("kpis").replaceChildren(el("p", {class: "err"}, `${t("error")}: ${e.message}`)));
  setInterval(() => load().catch(() => null), 30000);
})();
