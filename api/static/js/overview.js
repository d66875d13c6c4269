// Overview: read rate of the current billing period, meters heard, unknown meters, pipeline figures.
"use strict";
(() => {
  const {api, t, el, fmt, kind} = od;
  od.init("overview", {
    pl: {title: "Przegląd", readRate: "Odczytywalność okresu rozliczeniowego", area: "Rejon", mode: "Tryb odczytu",
         active: "Aktywne PP", read: "Odczytane", share: "Udział", unknown: "Nieznane wodomierze (do rejestracji)",
         manufacturer: "Producent", meterId: "Nr wodomierza", frames: "Ramki", lastHeard: "Ostatnio słyszany",
         bestGateway: "Koncentratory", openAlerts: "Nierozwiązane alarmy wg rodzaju",
         actual: "Rzeczywiste", stored: "Zapamiętane",
         basisNote: "Odczytany: punkt z odczytem rzeczywistym (radio, drive-by, ręczny) w okresie albo z wartością zapamiętaną przez wodomierz na dzień w okresie. Rzeczywiste — udział punktów z odczytem rzeczywistym; zapamiętane — udział punktów odczytanych tylko z wartości zapamiętanej.",
         k_rate: "Odczytywalność", k_heard: "Wodomierze słyszane (24 h)", k_unknown: "Nieznane wodomierze",
         k_fpm: "Ramki / min", k_lag: "Opóźnienie zapisu", k_dead: "Wiadomości odrzucone", k_gw: "Koncentratory online",
         k_alerts: "Otwarte alarmy", period: "Okres", all: "razem", fixed: "stacjonarny", driveby: "drive-by"},
    en: {title: "Overview", readRate: "Read rate of the billing period", area: "Area", mode: "Read mode",
         active: "Active SPs", read: "Read", share: "Share", unknown: "Unknown meters heard (candidates to register)",
         manufacturer: "Manufacturer", meterId: "Meter id", frames: "Frames", lastHeard: "Last heard",
         bestGateway: "Gateways", openAlerts: "Unresolved alerts by kind",
         actual: "Actual", stored: "Meter-stored",
         basisNote: "Read: a service point with an actual reading (radio, drive-by, manual) in the period or a value the meter stored for a day in the period. Actual — share of points with an actual reading; meter-stored — share read only from a meter-stored value.",
         k_rate: "Read rate", k_heard: "Meters heard (24 h)", k_unknown: "Unknown meters", k_fpm: "Frames / min",
         k_lag: "Ingest lag", k_dead: "Dead letters", k_gw: "Gateways online", k_alerts: "Open alerts",
         period: "Period", all: "all", fixed: "fixed", driveby: "drive-by"},
  });
  const kpi = (label, value, href) => el(href ? "a" : "div", {class: "card kpi", href, style: "text-decoration:none;color:inherit"},
    el("div", {class: "v"}, value), el("div", {class: "l"}, t(label)));
  const bar = (share) => el("div", {class: "bar", title: fmt.pct(share)}, el("span", {style: `width:${Math.round(100 * (share || 0))}%`}));
  const lag = (s) => (s === null || s === undefined ? "—" : s < 120 ? `${fmt.n(s)} s` : s < 7200 ? `${fmt.n(s / 60)} min` : `${fmt.n(s / 3600, 1)} h`);

  const got = {};  // each source renders as soon as it answers (the pipeline summary can be slow on a big install)
  function kpis() {
    const {ov, sum, al} = got, dash = "…";
    document.getElementById("kpis").replaceChildren(
      kpi("k_rate", ov ? fmt.pct(ov.read_rate.share) : dash, "/ui/map"),
      kpi("k_heard", sum ? `${fmt.n(sum.meters_heard_24h)} / ${fmt.n(sum.meters)}` : dash),
      kpi("k_unknown", sum ? fmt.n(sum.unknown_meters_heard) : dash), kpi("k_fpm", ov ? fmt.n(ov.frames_per_min, 1) : dash, "/ui/gateways"),
      kpi("k_lag", sum ? lag(sum.last_committed_lag_s) : dash, "/ui/gateways"), kpi("k_dead", sum ? fmt.n(sum.dead_letters) : dash, "/ui/gateways"),
      kpi("k_gw", sum ? `${fmt.n(sum.gateways_online)} / ${fmt.n(sum.gateways)}` : dash, "/ui/gateways"),
      kpi("k_alerts", al ? fmt.n(al.open + al.acknowledged) : dash, "/ui/alerts"));
  }
  function rate(ov) {
    const rr = ov.read_rate;
    const day = (v) => new Date(v).toLocaleDateString(od.lang() === "pl" ? "pl-PL" : "en-GB", {timeZone: ov.period.timezone});
    document.getElementById("period").textContent = `${t("period")}: ${day(ov.period.start)} – ${day(Date.parse(ov.period.end) - 1)} (${ov.period.timezone})`;
    const row = (area, mode, r, strong) => el("tr", {}, el("td", {}, strong ? el("b", {}, area) : area), el("td", {}, mode),
      el("td", {class: "num"}, fmt.n(r.active)), el("td", {class: "num"}, fmt.n(r.read)),
      el("td", {}, el("div", {style: "display:flex;gap:.5em;align-items:center"}, bar(r.share), fmt.pct(r.share))),
      el("td", {class: "num", title: fmt.n(r.actual)}, fmt.pct(r.share_actual)),
      el("td", {class: "num", title: fmt.n(r.meter_stored)}, fmt.pct(r.share_meter_stored)));
    document.querySelector("#rate tbody").replaceChildren(
      ...rr.rows.map((r) => row(r.area || "—", t(r.read_mode), r)),
      ...(rr.by_read_mode.length > 1 ? rr.by_read_mode.map((r) => row(t("all"), t(r.read_mode), r, true)) : []),
      row(t("all"), "", rr, true));
  }
  function unknown(unk) {
    document.querySelector("#unknown tbody").replaceChildren(...(unk.items.length ? unk.items.map((u) => el("tr", {},
      el("td", {}, u.manufacturer), el("td", {}, u.meter_id), el("td", {class: "num"}, fmt.n(u.frames)),
      el("td", {}, fmt.dt(u.last_heard_at)), el("td", {}, u.gateways.join(", ") || "—"))) :
      [el("tr", {}, el("td", {colspan: 5, class: "muted"}, t("none")))]));
  }
  function kinds(al) {
    const kinds = Object.entries(al.by_kind).sort((a, b) => b[1] - a[1]);
    document.querySelector("#alertkinds tbody").replaceChildren(...(kinds.length ? kinds.map(([k, n]) => el("tr", {},
      el("td", {}, el("a", {href: `/ui/alerts?kind=${encodeURIComponent(k)}`}, kind(k))), el("td", {class: "num"}, fmt.n(n)))) :
      [el("tr", {}, el("td", {class: "muted"}, t("none")))]));
  }
  const fail = (e) => document.getElementById("kpis").replaceChildren(el("p", {class: "err"}, `${t("error")}: ${e.message}`));
  function load() {
    const part = (key, path, then) => api(path).then((v) => { got[key] = v; kpis(); if (then) then(v); });
    return Promise.all([part("ov", "/v1/ui/overview", rate), part("sum", "/v1/dashboard/summary"),
      part("unk", "/v1/dashboard/unknown-meters?limit=15", unknown), part("al", "/v1/dashboard/alerts", kinds)]);
  }
  kpis();
  load().catch(fail);
  setInterval(() => load().catch(() => null), 30000);
})();
