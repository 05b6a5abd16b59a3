// TrueCourse UI: charts (uPlot), auto-refresh, the trace waterfall and the alert actions.
// Plain JavaScript, no build step; every write goes through the REST API.
"use strict";

(function () {
  const PALETTE = ["#1f6feb", "#e16f24", "#2da44e", "#8250df", "#cf222e", "#0598bc", "#bf8700",
    "#d63384", "#57606a", "#6f42c1"];
  const MARKER_COLORS = { deploy: "#1f6feb", config_change: "#bf8700", feature_flag: "#bf8700",
    alert: "#cf222e" };

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function fmt(unit, v) {
    if (v == null || Number.isNaN(v)) return "—";
    if (unit === "ratio") return (v * 100).toFixed(2) + "%";
    if (unit === "pct") return +(v * 100).toFixed(1) + "%";
    if (unit === "ms") return v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(0) + " ms";
    if (unit === "USD") return "$" + v.toFixed(4);
    if (unit === "count") return Math.round(v).toLocaleString();
    return v.toFixed(2);
  }

  function toSeconds(iso) { return Date.parse(iso) / 1000; }

  // axis labels in UTC, like every time on the page: HH:MM, with the date when the range spans days
  function utcTicks(u, splits) {
    const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    return splits.map((s) => {
      const iso = new Date(s * 1000).toISOString();
      return span > 2 * 86400 ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
    });
  }

  function markerPlugin(markers) {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          const top = u.bbox.top, height = u.bbox.height;
          ctx.save();
          ctx.font = `${11 * devicePixelRatio}px sans-serif`;
          let labelled = -1;
          markers.forEach((m) => {
            const x = Math.round(u.valToPos(toSeconds(m.t), "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = MARKER_COLORS[m.kind] || "#888";
            ctx.fillStyle = ctx.strokeStyle;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.lineWidth = devicePixelRatio;
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            if (m.kind === "alert") {  // alert starts: a flag on the line, named in the tooltip row
              ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x + 7 * devicePixelRatio, top + 4 * devicePixelRatio);
              ctx.lineTo(x, top + 8 * devicePixelRatio); ctx.fill();
            } else {
              labelled += 1;
              ctx.fillText(m.label, x + 3 * devicePixelRatio, top + (12 + (labelled % 3) * 12) * devicePixelRatio);
            }
          });
          ctx.restore();
        }],
      },
    };
  }

  function renderChart(el) {
    const data = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    const series = data.series || [];
    if (!series.length || !series[0].points.length) {
      el.innerHTML = '<div class="empty-chart">No data in this range</div>';
      return;
    }
    const xs = series[0].points.map((p) => toSeconds(p[0]));
    const ys = series.map((s) => s.points.map((p) => p[1]));
    const axis = { stroke: css("--muted"), grid: { stroke: css("--grid"), width: 1 },
      ticks: { stroke: css("--grid"), width: 1 } };
    const opts = {
      width: el.clientWidth, height: Number(el.dataset.height || 220),
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [Object.assign({}, axis, { values: utcTicks }),
        Object.assign({}, axis, { size: 72, values: (u, vals) => vals.map((v) => fmt(data.unit === "ratio" ? "pct" : data.unit, v)) })],
      series: [{ value: (u, v) => v == null ? "—" : new Date(v * 1000).toISOString().slice(11, 16) + " UTC" }].concat(series.map((s, i) => ({
        label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.6, spanGaps: !!data.span_gaps,
        points: { show: !!data.points, size: 6, fill: PALETTE[i % PALETTE.length] },
        value: (u, v) => fmt(data.unit, v),
      }))),
      plugins: data.markers && data.markers.length ? [markerPlugin(data.markers)] : [],
    };
    el.innerHTML = "";
    const plot = new uPlot(opts, [xs].concat(ys), el);
    let width = el.clientWidth;
    new ResizeObserver(() => {
      if (el.clientWidth !== width) {
        width = el.clientWidth;
        plot.setSize({ width, height: Number(el.dataset.height || 220) });
      }
    }).observe(el);
  }

  function setupRefresh() {
    const s = Number(document.body.dataset.refresh || 0);
    if (s > 0) setTimeout(() => window.location.reload(), s * 1000);
    document.querySelectorAll("[data-autosubmit]").forEach((el) =>
      el.addEventListener("change", () => el.form.submit()));
  }

  function setupWaterfall() {
    const rows = document.querySelectorAll(".wf-row");
    rows.forEach((row) => row.addEventListener("click", () => {
      rows.forEach((r) => r.classList.toggle("selected", r === row));
      document.querySelectorAll(".span-details .detail").forEach((d) => {
        d.hidden = d.id !== "detail-" + row.dataset.span;
      });
    }));
    if (rows.length) rows[0].classList.add("selected");
  }

  async function api(method, url, body) {
    const r = await fetch(url, { method, headers: { "content-type": "application/json" },
      body: body ? JSON.stringify(body) : undefined });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = (data && data.error) || {};
      throw new Error((e.message || r.statusText) + (e.hint ? " — " + e.hint : ""));
    }
    return data;
  }

  function setupAlerts() {
    const form = document.getElementById("silence-form");
    const error = document.getElementById("silence-error");
    const ackBy = document.getElementById("ack-by");
    if (ackBy) ackBy.value = localStorage.getItem("truecourse.user") || "";
    document.querySelectorAll("[data-action]").forEach((btn) => btn.addEventListener("click", async () => {
      const action = btn.dataset.action;
      try {
        if (action === "ack") {
          const by = (ackBy && ackBy.value.trim()) || (form && form.created_by.value.trim());
          if (!by) { if (error) error.textContent = "Say who acknowledges (the field below the form)."; ackBy && ackBy.focus(); return; }
          localStorage.setItem("truecourse.user", by);
          await api("POST", `/api/v1/alerts/${encodeURIComponent(btn.dataset.fingerprint)}/ack`, { by });
          window.location.reload();
        } else if (action === "expire") {
          await api("DELETE", `/api/v1/silences/${encodeURIComponent(btn.dataset.silence)}`);
          window.location.reload();
        } else if (action === "prefill-silence" && form) {
          form.matchers.value = btn.dataset.matchers;
          form.scrollIntoView({ behavior: "smooth" });
          form.created_by.focus();
        }
      } catch (e) {
        if (error) error.textContent = e.message;
      }
    }));
    if (!form) return;
    if (!form.created_by.value) form.created_by.value = localStorage.getItem("truecourse.user") || "";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      const matchers = form.matchers.value.split(/\n|,(?![^{]*})/).map((m) => m.trim()).filter(Boolean);
      try {
        await api("POST", "/api/v1/silences", { matchers, duration: form.duration.value,
          created_by: form.created_by.value.trim(), comment: form.comment.value });
        localStorage.setItem("truecourse.user", form.created_by.value.trim());
        window.location.reload();
      } catch (e) {
        error.textContent = e.message;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-chart]").forEach(renderChart);
    setupRefresh();
    setupWaterfall();
    setupAlerts();
  });
})();
