// Map: every service point as a dot on one canvas (points_layer.js) coloured by its most urgent state, gateways with their
// coverage; filters by area and state. Base layer from /v1/ui/map-config (OSM tiles, WMS, or none).
"use strict";
(() => {
  const {api, t, el, fmt} = od;
  od.init("map", {
    pl: {area: "Rejon", state: "Stan", allAreas: "wszystkie rejony", allStates: "wszystkie stany", s_read: "odczytany",
         s_unread: "nieodczytany w okresie", s_alert: "otwarty alarm", s_legal: "legalizacja: termin / po terminie",
         gwLayer: "Koncentratory", show: "pokaż", hide: "ukryj", points: "punktów poboru", gateway: "Koncentrator",
         meters: "wodomierzy słyszanych (7 dni)", open: "Otwórz", noBase: "Bez podkładu mapy (tryb offline).",
         baseOsm: "Podkład: kafelki", baseWms: "Podkład: WMS", online: "online", offline: "offline"},
    en: {area: "Area", state: "State", allAreas: "all areas", allStates: "all states", s_read: "read",
         s_unread: "not read this period", s_alert: "open alert", s_legal: "legalization due / expired",
         gwLayer: "Gateways", show: "show", hide: "hide", points: "service points", gateway: "Gateway",
         meters: "meters heard (7 days)", open: "Open", noBase: "No base map (offline mode).",
         baseOsm: "Base layer: tiles", baseWms: "Base layer: WMS", online: "online", offline: "offline"},
  });
  const COLORS = {alert: "#c62828", legal: "#d98200", unread: "#8a96a3", read: "#2e8b57"};
  const map = L.map("map", {preferCanvas: true, zoomControl: true}).setView([52.1, 19.4], 6);
  map.createPane("points").style.zIndex = 350;  // under the gateways (overlay pane, 400)
  const renderer = L.canvas({padding: 0.3});
  const points = new PointsLayer({pane: "points", order: [COLORS.read, COLORS.unread, COLORS.legal, COLORS.alert]}).addTo(map);
  const gateways = L.layerGroup().addTo(map);
  let data = null;
  window.odczytMap = {drawn: 0, ready: false, coverage: 0, map};  // read by the browser tests and the benchmark

  const category = (s, b) => (s & b.alert ? "alert" : s & (b.legal_due | b.legal_expired) ? "legal" : s & b.read ? "read" : "unread");
  document.getElementById("legend").replaceChildren(...Object.entries(COLORS).map(([k, c]) =>
    el("span", {}, el("i", {class: "dot", style: `background:${c}`}), t(`s_${k}`))));

  function draw(fit) {
    const want = document.getElementById("state").value;
    const color = (i) => { const cat = category(data.state[i], data.bits); return !want || cat === want ? COLORS[cat] : null; };
    if (fit) points.setData(data.lat, data.lon, color); else points.setColors(color);
    window.odczytMap.drawn = points.shown;
    document.getElementById("count").textContent = `${fmt.n(points.shown)} ${t("points")}`;
    if (fit && data.count) {
      let s = 90, w = 180, n = -90, e = -180;
      for (let i = 0; i < data.count; i++) {
        s = Math.min(s, data.lat[i]); n = Math.max(n, data.lat[i]); w = Math.min(w, data.lon[i]); e = Math.max(e, data.lon[i]);
      }
      map.fitBounds([[s, w], [n, e]], {padding: [20, 20], animate: false});
    }
    // the canvas is painted synchronously; "ready" after the next frame (readyAt: ms since navigation)
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.odczytMap.readyAt = performance.now(); window.odczytMap.ready = true; }));
  }
  map.on("click", (e) => {
    if (!data) return;
    const i = points.nearest(e.containerPoint);
    if (i < 0) return;
    const cat = category(data.state[i], data.bits);
    L.popup().setLatLng([data.lat[i], data.lon[i]]).setContent(el("div", {}, el("b", {}, data.id[i]), el("br"),
      data.areas[data.area[i]] ?? "", el("br"), t(`s_${cat}`), el("br"),
      el("a", {href: `/ui/service-points/${encodeURIComponent(data.id[i])}`}, t("open")))).openOn(map);
  });
  async function loadPoints(fit) {
    window.odczytMap.ready = false;
    const area = document.getElementById("area").value;
    data = await api(`/v1/ui/map-data${area ? `?area=${encodeURIComponent(area)}` : ""}`);
    const sel = document.getElementById("area");
    if (sel.options.length === 1) for (const a of data.areas) sel.append(el("option", {value: a}, a));
    draw(fit);
  }
  async function loadGateways() {
    const gw = await api("/v1/ui/gateway-coverage");
    gateways.clearLayers();
    window.odczytMap.coverage = 0;
    for (const g of gw.items) {
      if (g.lat === null || g.lon === null) continue;
      const color = g.state === "online" ? "#0b63b6" : "#c62828";
      // coverage from data: the hull of the gateway and the service points whose meters it heard (7 days)
      if (g.coverage.length >= 3) {
        L.polygon(g.coverage, {renderer, color, weight: 1, fillOpacity: 0.05, interactive: false}).addTo(gateways);
        window.odczytMap.coverage += 1;
      } else if (g.coverage.length === 2) {
        L.polyline(g.coverage, {renderer, color, weight: 1, interactive: false}).addTo(gateways);
      }
      L.circleMarker([g.lat, g.lon], {renderer, radius: 8, color: "#fff", weight: 2, fillColor: color, fillOpacity: 1})
        .bindPopup(`<b>${t("gateway")} ${g.id.replace(/[<&>"]/g, "")}</b><br>${t(g.state)}<br>${fmt.n(g.meters_heard)} ${t("meters")}`)
        .addTo(gateways);
    }
  }
  async function baseLayer() {
    const conf = await api("/v1/ui/map-config");
    const note = document.getElementById("basemap");
    if (conf.base === "osm") {
      L.tileLayer(conf.tiles_url, {maxZoom: 19, attribution: conf.attribution}).addTo(map);
      note.textContent = t("baseOsm");
    } else if (conf.base === "wms") {
      L.tileLayer.wms(conf.wms_url, {layers: conf.wms_layers, format: "image/png", transparent: false,
                                     attribution: conf.attribution}).addTo(map);
      note.textContent = t("baseWms");
    } else note.textContent = t("noBase");
  }
  document.getElementById("area").addEventListener("change", () => loadPoints(true));
  document.getElementById("state").addEventListener("change", () => draw(false));
  document.getElementById("gw").addEventListener("change", (e) => (e.target.value === "1" ? gateways.addTo(map) : gateways.remove()));
  baseLayer().catch(() => null);
  loadGateways().catch(() => null);
  loadPoints(true).catch((e) => { document.getElementById("count").textContent = `${t("error")}: ${e.message}`; });
})();
