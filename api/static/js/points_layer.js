// A Leaflet layer drawing many points on one canvas without a Leaflet object per point: positions are
// projected once (zoom 0, Web Mercator) and each redraw scales them, one path per colour. Clicking finds the
// nearest drawn point. Used by the map page for up to 100,000+ service points.
"use strict";
const PointsLayer = L.Layer.extend({
  initialize(options) { L.setOptions(this, options); this._x = []; this._y = []; this._color = []; this._show = []; },
  onAdd(map) {
    this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide");
    map.getPane(this.options.pane).appendChild(this._canvas);
    map.on("moveend zoomend resize viewreset", this._redraw, this);
    this._redraw();
  },
  onRemove(map) {
    L.DomUtil.remove(this._canvas);
    map.off("moveend zoomend resize viewreset", this._redraw, this);
  },
  // lat, lon: arrays; color(i) → CSS colour or null (hidden)
  setData(lat, lon, color) {
    const n = lat.length, x = new Float64Array(n), y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = L.CRS.EPSG3857.latLngToPoint(L.latLng(lat[i], lon[i]), 0);
      x[i] = p.x; y[i] = p.y;
    }
    this._x = x; this._y = y; this._lat = lat; this._lon = lon;
    this.setColors(color);
  },
  setColors(color) {
    const n = this._x.length;
    this._color = new Array(n);
    let shown = 0;
    for (let i = 0; i < n; i++) { this._color[i] = color(i); if (this._color[i]) shown++; }
    this.shown = shown;
    if (this._map) this._redraw();
  },
  _redraw() {
    const map = this._map, size = map.getSize(), dpr = window.devicePixelRatio || 1, c = this._canvas;
    L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
    c.width = size.x * dpr; c.height = size.y * dpr; c.style.width = `${size.x}px`; c.style.height = `${size.y}px`;
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const zoom = map.getZoom(), s = Math.pow(2, zoom), min = map.getPixelBounds().min;
    const r = zoom < 12 ? 2 : zoom < 15 ? 3.5 : 5.5;
    this._r = r;
    for (const colour of this.options.order) {
      g.beginPath();
      for (let i = 0; i < this._x.length; i++) {
        if (this._color[i] !== colour) continue;
        const px = this._x[i] * s - min.x, py = this._y[i] * s - min.y;
        if (px < -r || py < -r || px > size.x + r || py > size.y + r) continue;
        g.moveTo(px + r, py); g.arc(px, py, r, 0, 2 * Math.PI);
      }
      g.fillStyle = colour; g.fill();
      if (r > 3) { g.strokeStyle = "#fff"; g.lineWidth = 1; g.stroke(); }
    }
  },
  // index of the shown point nearest to a container point (within the radius + 4 px), or -1
  nearest(point) {
    const s = Math.pow(2, this._map.getZoom()), min = this._map.getPixelBounds().min, lim = (this._r + 4) ** 2;
    let best = -1, bestD = lim;
    for (let i = 0; i < this._x.length; i++) {
      if (!this._color[i]) continue;
      const dx = this._x[i] * s - min.x - point.x, dy = this._y[i] * s - min.y - point.y, d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = i; }
    }
    return best;
  },
});
