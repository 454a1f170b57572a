// Songscape's point map: a Streamlit v2 component that keeps every point in the browser.
//
// The server sends each array once, as a "part" keyed by a hash of its content (coordinates, track ids,
// the codes of every colour column, the rows of each highlight); a part this page already holds is named
// by its hash only. Parts live in a page-wide store that outlives reruns and remounts. Drawing (WebGL2,
// one gl.POINTS call for all points, a few more for the highlights), pan, zoom, hover, colouring and the
// legend's filter all happen here; a click (nearest point through a grid index) or a lasso (point in
// polygon over the grid cells it covers) sends back only the row numbers it selected.

const STORE = globalThis.__songscapePointMap || (globalThis.__songscapePointMap = {
  parts: new Map(),        // hash -> {value, bytes}, least recently used first
  bytes: 0,
  limit: 768 * 1024 * 1024,
  views: new Map(),        // Streamlit key -> PointMap (the tests and the benchmark read them)
  derived: new WeakMap(),  // coordinates -> {bounds, grid}: built once per set of coordinates
});
const INSTANCES = new WeakMap(); // the component's container -> PointMap

// ------------------------------------------------------------------------------------------- parts
function remember(hash, value, bytes) {
  if (STORE.parts.has(hash)) return;
  STORE.parts.set(hash, { value, bytes });
  STORE.bytes += bytes;
  for (const [old, entry] of STORE.parts) {
    if (STORE.bytes <= STORE.limit || old === hash) break;
    STORE.parts.delete(old);
    STORE.bytes -= entry.bytes;
  }
}

function recall(hash) {
  const entry = STORE.parts.get(hash);
  if (!entry) return undefined;
  STORE.parts.delete(hash); // most recently used last
  STORE.parts.set(hash, entry);
  return entry.value;
}

function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const TYPES = { f32: Float32Array, u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, i32: Int32Array };

async function decode(spec) {
  let bytes = fromBase64(spec.b64);
  if (spec.gzip) bytes = await gunzip(bytes);
  if (spec.dtype === "text") {
    return { value: new TextDecoder().decode(bytes).split("\n"), bytes: bytes.byteLength * 2 };
  }
  const Type = TYPES[spec.dtype];
  if (bytes.byteOffset % Type.BYTES_PER_ELEMENT) bytes = bytes.slice();
  return { value: new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT),
           bytes: bytes.byteLength };
}

// ------------------------------------------------------------------------------------------ colours
function rgb(hex) {
  const h = hex.replace("#", "");
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

function ramp(stops, t) {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i, a = stops[i], b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

// ------------------------------------------------------------------------------------------ shaders
const VERTEX = `#version 300 es
in vec2 a_pos;
in vec4 a_col;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_size;
out vec4 v_col;
void main() {
  v_col = a_col;
  gl_PointSize = u_size;
  gl_Position = a_col.a == 0.0 ? vec4(2.0, 2.0, 2.0, 1.0) : vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
}`;

// u_mode 0: a disc in the point's own colour; 1: a ring in u_color; 2: a disc in u_color with a dark edge
const FRAGMENT = `#version 300 es
precision highp float;
in vec4 v_col;
uniform int u_mode;
uniform vec4 u_color;
uniform float u_size;
out vec4 colour;
void main() {
  vec2 c = gl_PointCoord * 2.0 - 1.0;
  float r = length(c);
  if (r > 1.0) discard;
  if (u_mode == 0) { colour = v_col; return; }
  float edge = 2.0 / max(u_size, 1.0);
  if (u_mode == 1) { if (r < 1.0 - 2.5 * edge) discard; colour = u_color; return; }
  colour = r > 1.0 - 2.0 * edge ? vec4(0.07, 0.07, 0.07, 1.0) : u_color;
}`;

// the cached picture of the points, drawn as one textured rectangle (moved and scaled while panning or zooming)
const BLIT_VERTEX = `#version 300 es
in vec2 a_corner;
uniform vec4 u_rect;
out vec2 v_uv;
void main() {
  v_uv = a_corner;
  gl_Position = vec4(mix(u_rect.xy, u_rect.zw, a_corner), 0.0, 1.0);
}`;
const BLIT_FRAGMENT = `#version 300 es
precision highp float;
in vec2 v_uv;
uniform sampler2D u_tex;
out vec4 colour;
void main() { colour = texture(u_tex, v_uv); }`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
  return shader;
}

function link(gl, vertex, fragment) {
  const program = gl.createProgram();
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, vertex));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, fragment));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program));
  return program;
}

// highlight kind -> how it is drawn over the points (ring or disc, colour, size in px)
const HIGHLIGHTS = {
  selected: { mode: 1, color: [1.0, 0.5, 0.05, 1.0], size: 11, label: "selected" },
  neighbour: { mode: 1, color: [0.17, 0.63, 0.17, 1.0], size: 14, label: "nearest neighbour" },
  picked: { mode: 1, color: [0.84, 0.15, 0.16, 1.0], size: 15, label: "picked in the table" },
  focus: { mode: 2, color: [1.0, 0.88, 0.1, 1.0], size: 18, label: "listening" },
};
const DIM = [200, 200, 200, 70];
const HIDDEN_LIMIT = 60; // legend entries listed (the largest categories)

// ------------------------------------------------------------------------------------------ geometry
function bounds(xy) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < xy.length; i += 2) {
    const x = xy[i], y = xy[i + 1];
    if (x !== x || y !== y) continue; // NaN: a point without coordinates
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (x0 > x1) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
  if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
  if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
  return { x0, x1, y0, y1 };
}

// A uniform grid over the points' bounds: cell -> the rows in it (a counting sort, O(n)).
function buildGrid(xy, b) {
  const n = xy.length / 2;
  const side = Math.max(8, Math.min(1024, Math.round(Math.sqrt(n / 4))));
  const cw = (b.x1 - b.x0) / side, ch = (b.y1 - b.y0) / side;
  const cellOf = new Int32Array(n);
  const start = new Uint32Array(side * side + 1);
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x !== x || y !== y) { cellOf[i] = -1; continue; }
    const cx = Math.min(side - 1, Math.floor((x - b.x0) / cw));
    const cy = Math.min(side - 1, Math.floor((y - b.y0) / ch));
    const c = cy * side + cx;
    cellOf[i] = c;
    start[c + 1]++;
  }
  for (let c = 0; c < side * side; c++) start[c + 1] += start[c];
  const fill = start.slice(0, side * side);
  const order = new Uint32Array(start[side * side]);
  for (let i = 0; i < n; i++) if (cellOf[i] >= 0) order[fill[cellOf[i]]++] = i;
  return { side, cw, ch, start, order };
}

function derived(xy) {
  let d = STORE.derived.get(xy);
  if (!d) {
    const b = bounds(xy);
    d = { bounds: b, grid: buildGrid(xy, b) };
    STORE.derived.set(xy, d);
  }
  return d;
}

function inside(poly, x, y) {
  let hit = false;
  for (let i = 0, j = poly.length - 2; i < poly.length; j = i, i += 2) {
    const xi = poly[i], yi = poly[i + 1], xj = poly[j], yj = poly[j + 1];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function fmt(n) { return n.toLocaleString("en-US"); }

// ------------------------------------------------------------------------------------------ the map
class PointMap {
  constructor(root) {
    this.root = root;
    this.el = root.querySelector(".pm");
    this.stage = root.querySelector(".pm-stage");
    this.canvas = root.querySelector(".pm-gl");
    this.ink = root.querySelector(".pm-ink");
    this.tip = root.querySelector(".pm-tip");
    this.legend = root.querySelector(".pm-legend");
    this.info = root.querySelector(".pm-info");
    this.titleEl = root.querySelector(".pm-title");
    this.mode = "pan";
    this.hidden = new Map(); // colour column -> Set of hidden category codes (the legend's filter)
    this.seq = 0;
    this.dirty = false;
    this.spec = null;
    this.xy = null;
    this.view = null;
    this.counts = {};
    this.el.dataset.state = "loading";
    this.initGL();
    this.bindEvents();
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.stage);
  }

  connect(setTriggerValue, setStateValue) {
    this.setTriggerValue = setTriggerValue;
    this.setStateValue = setStateValue;
  }

  initGL() {
    const gl = this.canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: false,
                                                  preserveDrawingBuffer: true });
    this.gl = gl;
    if (!gl) {
      this.el.dataset.renderer = "none";
      this.info.textContent = "This browser has no WebGL2: the map cannot be drawn here.";
      return;
    }
    const ext = gl.getExtension("WEBGL_debug_renderer_info");
    this.renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    this.el.dataset.renderer = this.renderer;
    const program = link(gl, VERTEX, FRAGMENT);
    this.program = program;
    this.loc = {};
    for (const name of ["u_scale", "u_offset", "u_size", "u_mode", "u_color"]) this.loc[name] = gl.getUniformLocation(program, name);
    this.aPos = gl.getAttribLocation(program, "a_pos");
    this.aCol = gl.getAttribLocation(program, "a_col");
    this.vao = gl.createVertexArray();
    this.posBuffer = gl.createBuffer();
    this.colBuffer = gl.createBuffer();
    this.layers = {}; // kind -> {buffer, count}
    gl.bindVertexArray(this.vao);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuffer);
    gl.enableVertexAttribArray(this.aPos);
    gl.vertexAttribPointer(this.aPos, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuffer);
    gl.enableVertexAttribArray(this.aCol);
    gl.vertexAttribPointer(this.aCol, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    gl.bindVertexArray(null);
    this.baseBuffer = gl.createBuffer(); // the rows the base picture draws
    // the base picture: a texture the size of the canvas, and the program that puts it on screen
    this.blit = link(gl, BLIT_VERTEX, BLIT_FRAGMENT);
    this.blitRect = gl.getUniformLocation(this.blit, "u_rect");
    this.blitVao = gl.createVertexArray();
    gl.bindVertexArray(this.blitVao);
    gl.bindBuffer(gl.ARRAY_BUFFER, gl.createBuffer());
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]), gl.STATIC_DRAW);
    const corner = gl.getAttribLocation(this.blit, "a_corner");
    gl.enableVertexAttribArray(corner);
    gl.vertexAttribPointer(corner, 2, gl.FLOAT, false, 0, 0);
    gl.bindVertexArray(null);
    this.fbo = gl.createFramebuffer();
    this.fboTex = gl.createTexture();
    this.fboSize = null;
    this.baseView = null;
    this.canvas.addEventListener("webglcontextlost", (e) => { e.preventDefault(); this.lost = true; });
    this.canvas.addEventListener("webglcontextrestored", () => {
      this.lost = false; this.initGL(); this.uploaded = null; this.colourKey = null; this.baseView = null;
      this.refresh();
    });
  }

  // ---------------------------------------------------------------------------------- data in
  async update(data, key) {
    const seq = ++this.seq;
    if (key) STORE.views.set(key, this);
    this.key = key;
    this.el.dataset.state = "loading";
    const t0 = performance.now();
    let received = 0;
    const blobs = data.blobs || {};
    for (const [hash, spec] of Object.entries(blobs)) {
      if (STORE.parts.has(hash)) continue;
      const { value, bytes } = await decode(spec);
      remember(hash, value, bytes);
      received += spec.b64.length;
    }
    if (seq !== this.seq) return; // a newer update came in meanwhile
    const wanted = [data.xy, data.ids, data.match, ...Object.values(data.highlights || {}),
                    ...(data.columns || []).map((c) => c.part)].filter(Boolean);
    const missing = wanted.filter((h) => !STORE.parts.has(h));
    if (missing.length) {
      // this page lost or never got them (an interrupted run, or the store dropped them): ask again
      this.el.dataset.state = "missing";
      this.setTriggerValue("missing", missing);
      return;
    }
    this.spec = data;
    this.received = received;
    this.titleEl.textContent = data.title || "";
    this.stage.style.height = `${data.height || 560}px`;
    const xy = recall(data.xy);
    if (xy !== this.xy) {
      this.xy = xy;
      this.n = xy.length / 2;
      this.geo = derived(xy);
      this.fit(); // another projection: show all of it
    }
    this.layoutKey = data.xy;
    this.ids = recall(data.ids);
    this.columns = {};
    for (const c of data.columns || []) this.columns[c.name] = { ...c, values: recall(c.part) };
    this.match = data.match ? recall(data.match) : null;
    this.highlightRows = {};
    for (const [kind, hash] of Object.entries(data.highlights || {})) this.highlightRows[kind] = recall(hash);
    this.refresh();
    this.el.dataset.loadMs = String(Math.round(performance.now() - t0));
    this.el.dataset.receivedBytes = String(received);
  }

  refresh() {
    if (!this.gl || this.lost || !this.spec) return;
    this.resize(false);
    this.uploadPositions();
    this.recolour();
    this.uploadLayers();
    this.drawLegend();
    this.requestDraw();
  }

  uploadPositions() {
    if (this.uploaded === this.xy) return;
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, this.xy, gl.STATIC_DRAW);
    this.uploaded = this.xy;
    this.baseView = null;
  }

  // The colour of every point (RGBA bytes): its category's or its value's, faded when a search or the
  // filter leaves it out, transparent (not drawn, not selectable) when the legend hides its category.
  recolour() {
    const s = this.spec, n = this.n;
    const col = this.columns[s.colour];
    const filter = s.filter && this.columns[s.filter.column];
    const key = [s.colour, col && col.part, s.match, filter && filter.part, filter && s.filter.values.join("\u0001"),
                 [...(this.hidden.get(s.colour) || [])].join(","), this.n].join("|");
    if (key === this.colourKey) return;
    this.colourKey = key;
    const rgba = this.rgba && this.rgba.length === 4 * n ? this.rgba : new Uint8Array(4 * n);
    this.rgba = rgba;
    const hidden = this.hidden.get(s.colour) || new Set();
    let table = null, stops = null;
    if (col && col.kind === "cat") {
      table = col.colours.map(rgb);
    } else if (col) {
      stops = col.ramp.map(rgb);
    }
    // what the filter and the search keep (null: everything)
    let keep = null;
    if (filter || this.match) {
      keep = new Uint8Array(n);
      if (this.match) { for (const r of this.match) keep[r] = 1; } else keep.fill(1);
      if (filter) {
        const wanted = new Set(s.filter.values.map((v) => filter.names.indexOf(v)).filter((i) => i >= 0));
        const codes = filter.values;
        for (let i = 0; i < n; i++) if (keep[i] && !wanted.has(codes[i])) keep[i] = 0;
      }
    }
    const counts = col && col.kind === "cat" ? new Uint32Array(col.names.length) : null;
    let kept = 0, shown = 0;
    const values = col ? col.values : null;
    const span = col && col.kind === "num" ? (col.max - col.min) || 1 : 1;
    for (let i = 0; i < n; i++) {
      let r = 90, g = 110, b = 200, a = 217;
      if (table) {
        const c = values[i];
        counts[c]++;
        if (hidden.has(c)) { rgba[4 * i + 3] = 0; continue; }
        const t = table[c % table.length]; r = t[0]; g = t[1]; b = t[2];
      } else if (stops) {
        const v = values[i];
        if (v !== v) { r = g = b = 200; } else { const t = ramp(stops, (v - col.min) / span); r = t[0]; g = t[1]; b = t[2]; }
      }
      shown++;
      if (keep && !keep[i]) { r = DIM[0]; g = DIM[1]; b = DIM[2]; a = DIM[3]; } else kept++;
      rgba[4 * i] = r; rgba[4 * i + 1] = g; rgba[4 * i + 2] = b; rgba[4 * i + 3] = a;
    }
    this.counts = counts;
    this.keep = keep;
    this.shown = shown;
    this.kept = keep ? kept : shown;
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colBuffer);
    gl.bufferData(gl.ARRAY_BUFFER, rgba, gl.DYNAMIC_DRAW);
    this.keepAll = !keep || kept === shown;
    this.baseView = null; // the base picture is out of date
    this.el.dataset.colour = s.colour;
    this.el.dataset.colourPart = col ? col.part : "";
    this.el.dataset.shown = String(shown);
    this.el.dataset.kept = String(this.kept);
  }

  setLayer(kind, rows) {
    const gl = this.gl;
    let layer = this.layers[kind];
    if (!rows || !rows.length) { if (layer) layer.count = 0; return; }
    if (!layer) layer = this.layers[kind] = { buffer: gl.createBuffer(), count: 0, rows: null };
    if (layer.rows === rows) { layer.count = rows.length; return; }
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, layer.buffer);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, rows, gl.DYNAMIC_DRAW);
    layer.rows = rows;
    layer.count = rows.length;
  }

  uploadLayers() {
    const counts = {};
    for (const kind of Object.keys(HIGHLIGHTS)) {
      const rows = this.highlightRows[kind];
      this.setLayer(kind, rows && rows.length ? rows : null);
      counts[kind] = rows ? rows.length : 0;
      this.el.dataset[`n${kind[0].toUpperCase()}${kind.slice(1)}`] = String(counts[kind]);
    }
    this.el.dataset.points = String(this.n);
  }

  // ---------------------------------------------------------------------------------- view
  fit() {
    const b = this.geo.bounds;
    const W = this.width || 800, H = this.height || 560;
    const k = 0.94 * Math.min(W / (b.x1 - b.x0), H / (b.y1 - b.y0));
    this.view = { cx: (b.x0 + b.x1) / 2, cy: (b.y0 + b.y1) / 2, k };
    this.k0 = k;
  }

  resize(draw = true) {
    const W = Math.max(50, this.stage.clientWidth), H = Math.max(50, this.stage.clientHeight);
    const dpr = window.devicePixelRatio || 1;
    if (W === this.width && H === this.height && dpr === this.dpr) return;
    const first = !this.width;
    this.width = W; this.height = H; this.dpr = dpr;
    for (const c of [this.canvas, this.ink]) {
      c.width = Math.round(W * dpr); c.height = Math.round(H * dpr);
      c.style.width = `${W}px`; c.style.height = `${H}px`;
    }
    if (this.geo && (first || !this.view)) this.fit();
    if (draw) this.requestDraw();
  }

  toScreen(x, y) {
    const v = this.view;
    return [(x - v.cx) * v.k + this.width / 2, this.height / 2 - (y - v.cy) * v.k];
  }

  toData(sx, sy) {
    const v = this.view;
    return [(sx - this.width / 2) / v.k + v.cx, (this.height / 2 - sy) / v.k + v.cy];
  }

  pointSize() {
    const base = Math.min(7, Math.max(1.5, 60 / Math.pow(Math.max(this.n, 1), 0.25)));
    return Math.min(12, base * Math.sqrt(Math.max(1, this.view.k / this.k0)));
  }

  requestDraw() {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => { this.dirty = false; this.draw(); });
  }

  // A pan or a zoom moves the cached picture at once; the points are drawn again once the user pauses.
  moved() {
    this.interactingUntil = performance.now() + 160;
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.requestDraw(), 180);
    this.requestDraw();
  }

  sameView(a, b) {
    return a && b && a.cx === b.cx && a.cy === b.cy && a.k === b.k && a.w === b.w && a.h === b.h;
  }

  // The rows the base picture draws, in drawing order: every visible point except one that a later point
  // in the same device pixel covers (the picture is the same; software WebGL pays ~1 µs per point issued).
  // Faded points first, then the points the filter keeps, so that those are on top.
  baseRows() {
    const W = this.canvas.width, H = this.canvas.height, n = this.n, xy = this.xy, rgba = this.rgba, keep = this.keep;
    const v = this.view, dpr = this.dpr || 1, k = v.k * dpr;
    const m = Math.ceil(this.pointSize() * dpr / 2) + 1; // a point whose centre is just off the canvas still shows
    const GW = W + 2 * m, GH = H + 2 * m;
    const ox = W / 2 - v.cx * k + m, oy = H / 2 + v.cy * k + m;
    if (!this.owner || this.owner.length !== GW * GH) this.owner = new Int32Array(GW * GH);
    if (!this.cellOf || this.cellOf.length !== n) { this.cellOf = new Int32Array(n); this.order = new Uint32Array(n); }
    const owner = this.owner, cellOf = this.cellOf, order = this.order;
    owner.fill(-1);
    const pass = (want) => {
      for (let i = 0; i < n; i++) {
        if (want >= 0 && keep[i] !== want) continue;
        if (rgba[4 * i + 3] === 0) { cellOf[i] = -1; continue; }
        const x = xy[2 * i], y = xy[2 * i + 1];
        const sx = Math.floor(x * k + ox), sy = Math.floor(oy - y * k);
        if (!(sx >= 0 && sx < GW && sy >= 0 && sy < GH)) { cellOf[i] = -1; continue; } // off the canvas, or NaN
        const c = sy * GW + sx;
        cellOf[i] = c;
        owner[c] = i;
      }
    };
    const collect = (want, count) => {
      for (let i = 0; i < n; i++) {
        if (want >= 0 && keep[i] !== want) continue;
        const c = cellOf[i];
        if (c >= 0 && owner[c] === i) order[count++] = i;
      }
      return count;
    };
    let count = 0;
    if (this.keepAll) { pass(-1); count = collect(-1, 0); } else {
      pass(0); pass(1); count = collect(0, 0); count = collect(1, count);
    }
    return count;
  }

  renderBase() {
    const gl = this.gl, W = this.canvas.width, H = this.canvas.height;
    const t0 = performance.now();
    if (!this.fboSize || this.fboSize[0] !== W || this.fboSize[1] !== H) {
      gl.bindTexture(gl.TEXTURE_2D, this.fboTex);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, W, H, 0, gl.RGBA, gl.UNSIGNED_BYTE, null);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, this.fboTex, 0);
      this.fboSize = [W, H];
    }
    const count = this.baseRows();
    const t1 = performance.now();
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
    gl.viewport(0, 0, W, H);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.program);
    gl.bindVertexArray(this.vao);
    this.setUniforms(this.view);
    gl.uniform1f(this.loc.u_size, this.pointSize() * (this.dpr || 1));
    gl.uniform1i(this.loc.u_mode, 0);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.baseBuffer);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, this.order.subarray(0, count), gl.DYNAMIC_DRAW);
    gl.drawElements(gl.POINTS, count, gl.UNSIGNED_INT, 0);
    gl.bindVertexArray(null);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    this.baseView = { ...this.view, w: W, h: H };
    this.el.dataset.issued = String(count);
    this.el.dataset.cullMs = (t1 - t0).toFixed(1);
  }

  setUniforms(v) {
    const gl = this.gl, sx = (2 * v.k) / this.width, sy = (2 * v.k) / this.height;
    gl.uniform2f(this.loc.u_scale, sx, sy);
    gl.uniform2f(this.loc.u_offset, -v.cx * sx, -v.cy * sy);
  }

  draw() {
    const gl = this.gl;
    if (!gl || this.lost || !this.spec || !this.view) return;
    const t0 = performance.now();
    const W = this.canvas.width, H = this.canvas.height, dpr = this.dpr || 1;
    const view = { ...this.view, w: W, h: H };
    const interacting = performance.now() < (this.interactingUntil || 0);
    const fresh = !this.baseView || (!interacting && !this.sameView(this.baseView, view));
    if (fresh) this.renderBase();
    // the base picture, where the current view puts it
    const b = this.baseView, v = this.view, w = this.width, h = this.height;
    const px = (bx) => (((bx - w / 2) / b.k + b.cx - v.cx) * v.k + w / 2) / w * 2 - 1;
    const py = (by) => 1 - (h / 2 - (b.cy - (by - h / 2) / b.k - v.cy) * v.k) / h * 2;
    gl.viewport(0, 0, W, H);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.disable(gl.BLEND);
    gl.useProgram(this.blit);
    gl.bindVertexArray(this.blitVao);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.fboTex);
    gl.uniform4f(this.blitRect, px(0), py(h), px(w), py(0));
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    // the highlights, always at the current view
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(this.program);
    gl.bindVertexArray(this.vao);
    this.setUniforms(v);
    const size = this.pointSize();
    for (const [kind, style] of Object.entries(HIGHLIGHTS)) {
      const layer = this.layers[kind];
      if (!layer || !layer.count) continue;
      const s = Math.max(style.size * (kind === "selected" ? Math.min(1, 0.4 + size / 8) : 1), size + 4);
      gl.uniform1i(this.loc.u_mode, style.mode);
      gl.uniform4fv(this.loc.u_color, style.color);
      gl.uniform1f(this.loc.u_size, s * dpr);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, layer.buffer);
      gl.drawElements(gl.POINTS, layer.count, gl.UNSIGNED_INT, 0);
    }
    gl.bindVertexArray(null);
    this.drawInk();
    if (fresh) {
      // wait for the GPU (software or not) to finish, so that the times below are what the user waits
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.pixel || (this.pixel = new Uint8Array(4)));
    }
    const ms = performance.now() - t0;
    this.frames = (this.frames || 0) + 1;
    this.el.dataset.frames = String(this.frames);
    this.el.dataset.drawMs = ms.toFixed(1);
    if (fresh) this.el.dataset.baseMs = ms.toFixed(1);
    this.el.dataset.state = "ready";
    this.el.dataset.readyAt = String(performance.now());
    this.info.textContent = `${fmt(this.n)} points` + (this.kept < this.shown ? ` · ${fmt(this.kept)} kept by the search or filter` : "")
      + (this.mode === "lasso" ? " · draw round the points to select" : " · drag: pan · wheel: zoom · click: pick");
  }

  drawInk() {
    const c = this.ink.getContext("2d");
    const dpr = this.dpr || 1;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, this.width, this.height);
    if (this.lasso && this.lasso.length >= 4) {
      c.beginPath();
      c.moveTo(this.lasso[0], this.lasso[1]);
      for (let i = 2; i < this.lasso.length; i += 2) c.lineTo(this.lasso[i], this.lasso[i + 1]);
      c.closePath();
      c.fillStyle = "rgba(255,127,14,0.08)";
      c.strokeStyle = "#ff7f0e";
      c.setLineDash([5, 4]);
      c.lineWidth = 1.5;
      c.fill();
      c.stroke();
    }
  }

  // ---------------------------------------------------------------------------------- picking
  visible(i) { return this.rgba && this.rgba[4 * i + 3] !== 0; }

  nearest(sx, sy, radius = 8) {
    if (!this.geo) return -1;
    const [x, y] = this.toData(sx, sy);
    const g = this.geo.grid, b = this.geo.bounds, r = radius / this.view.k;
    const cx0 = Math.max(0, Math.floor((x - r - b.x0) / g.cw)), cx1 = Math.min(g.side - 1, Math.floor((x + r - b.x0) / g.cw));
    const cy0 = Math.max(0, Math.floor((y - r - b.y0) / g.ch)), cy1 = Math.min(g.side - 1, Math.floor((y + r - b.y0) / g.ch));
    let best = -1, bestD = r * r;
    const xy = this.xy;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * g.side + cx;
        for (let k = g.start[c]; k < g.start[c + 1]; k++) {
          const i = g.order[k];
          const dx = xy[2 * i] - x, dy = xy[2 * i + 1] - y, d = dx * dx + dy * dy;
          if (d <= bestD && this.visible(i)) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  // The rows inside a lasso drawn on screen. The polygon is filled into a mask the size of the map (an
  // antialiased 2-D canvas): a point on a fully covered pixel is in, on an empty one out, and only a point on a
  // partly covered pixel (the outline) is tested exactly (even-odd rule in data coordinates).
  rowsInLasso(screenPoly) {
    const W = Math.ceil(this.width), H = Math.ceil(this.height);
    const mask = new OffscreenCanvas(W, H).getContext("2d", { willReadFrequently: true });
    mask.beginPath();
    mask.moveTo(screenPoly[0], screenPoly[1]);
    for (let i = 2; i < screenPoly.length; i += 2) mask.lineTo(screenPoly[i], screenPoly[i + 1]);
    mask.closePath();
    mask.fillStyle = "#000";
    mask.fill("evenodd");
    const alpha = mask.getImageData(0, 0, W, H).data;
    const poly = new Float64Array(screenPoly.length);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < screenPoly.length; i += 2) {
      const [x, y] = this.toData(screenPoly[i], screenPoly[i + 1]);
      poly[i] = x; poly[i + 1] = y;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const g = this.geo.grid, b = this.geo.bounds, xy = this.xy, v = this.view;
    const cx0 = Math.max(0, Math.floor((x0 - b.x0) / g.cw)), cx1 = Math.min(g.side - 1, Math.floor((x1 - b.x0) / g.cw));
    const cy0 = Math.max(0, Math.floor((y0 - b.y0) / g.ch)), cy1 = Math.min(g.side - 1, Math.floor((y1 - b.y0) / g.ch));
    const ox = this.width / 2 - v.cx * v.k, oy = this.height / 2 + v.cy * v.k;
    const rows = new Uint32Array(this.n);
    let count = 0;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cy * g.side + cx;
        for (let k = g.start[c]; k < g.start[c + 1]; k++) {
          const i = g.order[k], x = xy[2 * i], y = xy[2 * i + 1];
          if (x < x0 || x > x1 || y < y0 || y > y1 || !this.visible(i)) continue;
          const sx = Math.floor(x * v.k + ox), sy = Math.floor(oy - y * v.k);
          if (sx < 0 || sx >= W || sy < 0 || sy >= H) continue;
          const a = alpha[4 * (sy * W + sx) + 3];
          if (a === 255 || (a > 0 && inside(poly, x, y))) rows[count++] = i;
        }
      }
    }
    return Array.from(rows.subarray(0, count).sort());
  }

  select(rows, how) {
    this.el.dataset.sentRows = String(rows.length);
    this.el.dataset.sentAt = String(performance.now());
    this.setTriggerValue("selection", { layout: this.layoutKey, rows, how });
  }

  // ---------------------------------------------------------------------------------- events
  local(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  bindEvents() {
    const cv = this.ink; // the top canvas takes the pointer
    this.root.querySelectorAll(".pm-tools button[data-mode]").forEach((b) => {
      b.addEventListener("click", () => this.setMode(b.dataset.mode));
    });
    this.root.querySelector(".pm-tools button[data-act=reset]").addEventListener("click", () => { this.fit(); this.requestDraw(); });
    cv.addEventListener("wheel", (e) => {
      if (!this.view) return;
      e.preventDefault();
      const [sx, sy] = this.local(e);
      const [x, y] = this.toData(sx, sy);
      const f = Math.exp(-e.deltaY * 0.0015);
      const k = Math.min(this.k0 * 5000, Math.max(this.k0 * 0.2, this.view.k * f));
      this.view.k = k;
      // keep the data point under the cursor where it is
      this.view.cx = x - (sx - this.width / 2) / k;
      this.view.cy = y - (this.height / 2 - sy) / k;
      this.hideTip();
      this.moved();
    }, { passive: false });
    cv.addEventListener("pointerdown", (e) => {
      if (!this.view || e.button !== 0) return;
      cv.setPointerCapture(e.pointerId);
      const [sx, sy] = this.local(e);
      this.drag = { sx, sy, cx: this.view.cx, cy: this.view.cy, moved: false, lasso: this.mode === "lasso" || e.shiftKey };
      if (this.drag.lasso) this.lasso = [sx, sy];
      this.hideTip();
    });
    cv.addEventListener("pointermove", (e) => {
      const [sx, sy] = this.local(e);
      const d = this.drag;
      if (!d) { this.hover(sx, sy); return; }
      if (Math.abs(sx - d.sx) + Math.abs(sy - d.sy) > 3) d.moved = true;
      if (d.lasso) {
        const L = this.lasso, lx = L[L.length - 2], ly = L[L.length - 1];
        if (Math.abs(sx - lx) + Math.abs(sy - ly) >= 2) L.push(sx, sy);
        this.drawInk();
      } else if (d.moved) {
        this.view.cx = d.cx - (sx - d.sx) / this.view.k;
        this.view.cy = d.cy + (sy - d.sy) / this.view.k;
        this.moved();
      }
    });
    const end = (e) => {
      const d = this.drag;
      this.drag = null;
      if (!d) return;
      const [sx, sy] = this.local(e);
      if (d.lasso && d.moved && this.lasso.length >= 6) {
        const poly = this.lasso;
        this.lasso = null;
        this.drawInk();
        const t0 = performance.now();
        const rows = this.rowsInLasso(poly);
        this.el.dataset.lassoMs = (performance.now() - t0).toFixed(1);
        if (rows.length) this.select(rows, "lasso");
        return;
      }
      this.lasso = null;
      this.drawInk();
      if (!d.moved) {
        const t0 = performance.now();
        const i = this.nearest(sx, sy);
        this.el.dataset.pickMs = (performance.now() - t0).toFixed(2);
        if (i >= 0) this.select([i], "click");
      }
    };
    cv.addEventListener("pointerup", end);
    cv.addEventListener("pointercancel", () => { this.drag = null; this.lasso = null; this.drawInk(); });
    cv.addEventListener("pointerleave", () => { if (!this.drag) this.hideTip(); });
    cv.addEventListener("dblclick", () => { this.fit(); this.requestDraw(); });
  }

  setMode(mode) {
    this.mode = mode;
    this.root.querySelectorAll(".pm-tools button[data-mode]").forEach((b) => b.classList.toggle("on", b.dataset.mode === mode));
    this.el.dataset.mode = mode;
    this.ink.style.cursor = mode === "lasso" ? "crosshair" : "grab";
    this.requestDraw();
  }

  hover(sx, sy) {
    if (this.hoverPending) { this.hoverAt = [sx, sy]; return; }
    this.hoverPending = true;
    this.hoverAt = [sx, sy];
    requestAnimationFrame(() => {
      this.hoverPending = false;
      const [hx, hy] = this.hoverAt;
      const i = this.nearest(hx, hy);
      if (i < 0) { this.hideTip(); return; }
      this.showTip(i, hx, hy);
    });
  }

  label(column, i) {
    const c = this.columns[column];
    if (!c) return "";
    if (c.kind === "cat") return c.names[c.values[i]];
    const v = c.values[i];
    return v !== v ? "" : Number(v.toPrecision(4)).toString();
  }

  showTip(i, sx, sy) {
    const s = this.spec;
    const lines = [`<b>${escapeHtml(this.ids ? this.ids[i] : `row ${i}`)}</b>`];
    const shown = [s.colour, ...(s.tooltip || []).filter((c) => c !== s.colour)];
    for (const c of shown) if (this.columns[c]) lines.push(`${escapeHtml(c)}: ${escapeHtml(this.label(c, i))}`);
    this.tip.innerHTML = lines.join("<br>");
    this.tip.hidden = false;
    const x = Math.min(sx + 14, this.width - this.tip.offsetWidth - 4), y = Math.min(sy + 14, this.height - this.tip.offsetHeight - 4);
    this.tip.style.transform = `translate(${Math.max(0, x)}px, ${Math.max(0, y)}px)`;
    this.el.dataset.hover = this.ids ? this.ids[i] : String(i);
  }

  hideTip() { this.tip.hidden = true; }

  // ---------------------------------------------------------------------------------- legend
  drawLegend() {
    const s = this.spec, col = this.columns[s.colour];
    const key = [s.colour, col && col.part, this.colourKey].join("|");
    if (key === this.legendKey) return;
    this.legendKey = key;
    this.legend.replaceChildren();
    if (!col) return;
    // the legend's title chooses the colour: at once here, and the page follows (the "colour" trigger)
    const head = document.createElement("select");
    head.className = "pm-legend-title";
    head.title = "Colour by";
    for (const c of s.columns || []) {
      const option = document.createElement("option");
      option.value = option.textContent = c.name;
      option.selected = c.name === s.colour;
      head.append(option);
    }
    head.addEventListener("change", () => this.setColour(head.value));
    this.legend.append(head);
    if (col.kind === "num") {
      const bar = document.createElement("div");
      bar.className = "pm-ramp";
      bar.style.background = `linear-gradient(to right, ${col.ramp.join(", ")})`;
      const ends = document.createElement("div");
      ends.className = "pm-ramp-ends";
      ends.innerHTML = `<span>${Number(col.min.toPrecision(3))}</span><span>${Number(col.max.toPrecision(3))}</span>`;
      this.legend.append(bar, ends);
      return;
    }
    const hidden = this.hidden.get(s.colour) || new Set();
    const order = col.names.map((_, i) => i).filter((i) => this.counts[i] > 0);
    order.sort((a, b) => this.counts[b] - this.counts[a] || (col.names[a] < col.names[b] ? -1 : 1));
    if (order.length <= HIDDEN_LIMIT) order.sort((a, b) => (col.names[a] < col.names[b] ? -1 : col.names[a] > col.names[b] ? 1 : 0));
    for (const i of order.slice(0, HIDDEN_LIMIT)) {
      const item = document.createElement("button");
      item.className = "pm-item" + (hidden.has(i) ? " off" : "");
      item.dataset.code = String(i);
      item.title = "Click to hide or show these points; double-click to show only them";
      const sw = document.createElement("span");
      sw.className = "pm-swatch";
      sw.style.background = col.colours[i % col.colours.length];
      const text = document.createElement("span");
      text.textContent = `${col.names[i]} (${fmt(this.counts[i])})`;
      item.append(sw, text);
      item.addEventListener("click", () => this.toggle(i));
      item.addEventListener("dblclick", () => this.only(i));
      this.legend.append(item);
    }
    if (order.length > HIDDEN_LIMIT) {
      const more = document.createElement("div");
      more.className = "pm-more";
      more.textContent = `… and ${fmt(order.length - HIDDEN_LIMIT)} more`;
      this.legend.append(more);
    }
    if (hidden.size) {
      const all = document.createElement("button");
      all.className = "pm-all";
      all.textContent = "show all";
      all.addEventListener("click", () => { this.hidden.delete(s.colour); this.refresh(); });
      this.legend.append(all);
    }
  }

  setColour(name) {
    if (!this.columns[name] || name === this.spec.colour) return;
    const t0 = performance.now();
    this.spec = { ...this.spec, colour: name };
    this.refresh();
    this.draw(); // now, not at the next frame: the user is waiting for it
    this.el.dataset.colourMs = (performance.now() - t0).toFixed(1);
    this.setTriggerValue("colour", name);
  }

  toggle(code) {
    const s = this.spec;
    const set = this.hidden.get(s.colour) || new Set();
    if (set.has(code)) set.delete(code); else set.add(code);
    this.hidden.set(s.colour, set);
    this.refresh();
  }

  only(code) {
    const col = this.columns[this.spec.colour];
    this.hidden.set(this.spec.colour, new Set(col.names.map((_, i) => i).filter((i) => i !== code)));
    this.refresh();
  }

  // ---------------------------------------------------------------------------------- for tests
  screenOf(row) {
    const r = this.canvas.getBoundingClientRect();
    const [sx, sy] = this.toScreen(this.xy[2 * row], this.xy[2 * row + 1]);
    return [r.left + sx, r.top + sy];
  }

  dispose() {
    this.resizer.disconnect();
    if (this.key && STORE.views.get(this.key) === this) STORE.views.delete(this.key);
    const lose = this.gl && this.gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
  }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

export default function (component) {
  const { data, parentElement, setTriggerValue, setStateValue, key } = component;
  let map = INSTANCES.get(parentElement);
  if (!map) {
    map = new PointMap(parentElement);
    INSTANCES.set(parentElement, map);
  }
  map.connect(setTriggerValue, setStateValue);
  if (data) {
    map.update(data, data.key).catch((err) => {
      map.el.dataset.state = "error";
      map.info.textContent = `The map could not be drawn: ${err.message}`;
    });
  }
  return () => {
    // a rerun calls this too, just before it hands the new data in: only a map taken off the page is released
    setTimeout(() => {
      const host = parentElement.host || parentElement;
      if (!host.isConnected && INSTANCES.get(parentElement) === map) {
        map.dispose();
        INSTANCES.delete(parentElement);
      }
    }, 1000);
  };
}
