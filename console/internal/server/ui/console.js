// The saga console's page: polls the JSON API every second and renders the
// list and the saga named by the URL hash (#<gid>). Everything is built with
// DOM calls and text nodes, never HTML strings: usernames are user input.
// Attributes data-gid, data-status, data-method, data-op, data-table,
// data-exists, data-mail, data-read-model, data-trace-spans and
// data-span-* are a contract with the headless-browser tests.
"use strict";

(() => {
  const POLL_MS = 1000;
  const TABLES = ["user", "user_score", "outbox"];
  const FIELDS = {
    user: [["id", "id"], ["username", "username"], ["gender", "gender"], ["email", "email"],
      ["complete", "complete"], ["email verified", "email_verified"], ["created", "created_at"]],
    user_score: [["user_id", "user_id"], ["score", "score"], ["created", "created_at"]],
    outbox: [["id", "id"], ["created", "created_at"], ["published", "published_at"], ["publishes", "publishes"],
      ["done", "done_at"], ["outcome", "outcome"], ["delivered", "delivered"], ["sent", "sent_at"], ["code used", "code_used"]],
  };
  const TIMES = new Set(["created_at", "published_at", "done_at", "sent_at"]);

  const listSection = document.querySelector(".list");
  const listBody = document.querySelector("#sagas tbody");
  const listEmpty = document.getElementById("list-empty");
  const listIncomplete = document.getElementById("list-incomplete");
  const detail = document.getElementById("detail");
  const feed = document.getElementById("feed");
  let lastList = "";
  let lastDetail = "";

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  const badge = (status) => el("span", { class: "badge " + status }, status);

  function selectedGid() {
    try {
      return decodeURIComponent(location.hash.slice(1));
    } catch {
      return "";
    }
  }

  function age(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h";
    return Math.floor(seconds / 86400) + " d";
  }

  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "";
  }

  // dateTime is local "YYYY-MM-DD HH:MM:SS", short enough for a row field.
  function dateTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + clock(iso);
  }

  // fetchJSON answers {ok, status, text, body, incomplete}; it throws only
  // when the console itself cannot be reached. incomplete: the server's
  // Sagas-Incomplete header, a list that may miss older sagas.
  async function fetchJSON(url) {
    let r;
    try {
      r = await fetch(url, { cache: "no-store" });
    } catch {
      throw new Error("console unreachable");
    }
    const text = await r.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = { message: "HTTP " + r.status };
    }
    return { ok: r.ok, status: r.status, text, body, incomplete: r.headers.get("Sagas-Incomplete") === "true" };
  }

  // ---- list ----

  async function refreshList() {
    const r = await fetchJSON("api/sagas?limit=50");
    if (!r.ok) {
      listSection.classList.add("stale");
      throw new Error(r.body.message || "HTTP " + r.status);
    }
    listSection.classList.remove("stale");
    const key = r.incomplete + "\n" + r.text;
    if (key !== lastList) {
      lastList = key;
      renderList(r.body, r.incomplete);
    }
    markSelected();
  }

  function renderList(sagas, incomplete) {
    listEmpty.hidden = sagas.length > 0 || incomplete;
    listIncomplete.hidden = !incomplete;
    listBody.replaceChildren(...sagas.map((s) => {
      const tr = el("tr", { "data-gid": s.gid, "data-status": s.status },
        el("td", {}, el("a", { class: "mono", href: "#" + s.gid }, s.gid)),
        el("td", {}, badge(s.status), s.reason ? el("span", { class: "reason" }, s.reason) : null),
        el("td", { class: "age", title: s.created_at }, age(s.age_seconds)));
      tr.addEventListener("click", () => { location.hash = s.gid; });
      return tr;
    }));
  }

  function markSelected() {
    const gid = selectedGid();
    for (const tr of listBody.rows) {
      const on = tr.dataset.gid === gid;
      tr.classList.toggle("selected", on);
      tr.setAttribute("aria-selected", on);
    }
  }

  // ---- detail ----

  async function refreshDetail() {
    const gid = selectedGid();
    if (!gid) {
      if (lastDetail !== "") showHint();
      return;
    }
    const r = await fetchJSON("api/sagas/" + encodeURIComponent(gid));
    // The saga's trace, when it has one: the spans every process exported
    // to the console (they arrive in batches, so it is read every tick too).
    let trace = null, traceText = "";
    if (r.ok && r.body.trace_id) {
      const t = await fetchJSON("api/traces/" + encodeURIComponent(r.body.trace_id));
      traceText = t.status + "\n" + t.text;
      trace = t.ok ? t.body : { note: t.body.message || "" };
    }
    const key = gid + "\n" + r.status + "\n" + r.text + "\n" + traceText;
    if (gid !== selectedGid() || key === lastDetail) return;
    lastDetail = key;
    if (r.ok) renderDetail(r.body, trace);
    else renderDetailError(gid, r.body);
  }

  function showHint() {
    lastDetail = "";
    delete detail.dataset.gid;
    delete detail.dataset.status;
    delete detail.dataset.error;
    detail.replaceChildren(el("p", { class: "hint" }, "Select a saga to see its branches and the rows they wrote."));
  }

  function renderDetailError(gid, body) {
    detail.dataset.gid = gid;
    delete detail.dataset.status;
    detail.dataset.error = body.code || "ERROR";
    detail.replaceChildren(
      el("header", { class: "detail-head" }, el("h2", { class: "mono" }, gid)),
      el("p", { class: "error" }, body.message || "error"));
  }

  function renderDetail(d, trace) {
    detail.dataset.gid = d.gid;
    detail.dataset.status = d.status;
    delete detail.dataset.error;

    const head = el("header", { class: "detail-head" },
      el("h2", { class: "mono" }, d.gid),
      badge(d.status),
      d.reason ? el("span", { class: "reason" }, d.reason) : null,
      el("p", { class: "meta", title: d.created_at }, "created " + dateTime(d.created_at)));

    // One section per step: its action and compensation next to the row
    // they write and remove.
    const steps = new Map();
    for (const b of d.branches) {
      if (!steps.has(b.branch_id)) steps.set(b.branch_id, []);
      steps.get(b.branch_id).push(b);
    }
    const shown = new Set();
    const sections = [];
    for (const [id, branches] of steps) {
      const table = branches.map((b) => b.table).find((t) => t) || "";
      const service = branches.map((b) => b.service).find((s) => s) || "";
      const rows = el("table", { class: "branches" }, el("tbody", {},
        ...branches.map((b) => branchRow(b, d))));
      const body = el("div", { class: "step-body" }, rows);
      if (table && !shown.has(table)) {
        shown.add(table);
        body.append(rowBlock(table, d.rows[table]));
      }
      sections.push(el("section", { class: "step" }, el("h3", {}, "step " + id + " · " + service), body));
    }
    // Rows no branch points at still belong on the page.
    for (const table of TABLES) {
      if (!shown.has(table)) {
        sections.push(el("section", { class: "step" }, el("h3", {}, table), rowBlock(table, d.rows[table])));
      }
    }
    sections.push(mailBlock(d.rows));
    sections.push(readModelBlock(d.rows.read_model || {}));
    sections.push(traceBlock(d.trace_id, trace));
    detail.replaceChildren(head, ...sections);
  }

  // mailBlock shows what the development mail server holds for the
  // registration's address: each message with its verification link.
  function mailBlock(rows) {
    const mail = rows.mail || [];
    const block = el("section", { class: "step mail", "data-mail": String(mail.length) },
      el("h3", {}, "mail · ", el("a", { href: "/queues/", title: "asynq's web UI: the outbox tasks" }, "queues")));
    if (rows.mail_note) block.append(el("p", { class: "hint" }, rows.mail_note));
    else if (!mail.length) block.append(el("p", { class: "hint" }, "no mail to this address"));
    for (const m of mail) {
      block.append(el("div", { class: "row-block", "data-mail-id": String(m.id) },
        el("h4", {}, el("span", {}, m.subject), el("span", { class: "state", title: m.received }, dateTime(m.received))),
        el("dl", {}, el("dt", {}, "to"), el("dd", { class: "mono" }, m.to),
          el("dt", {}, "link"), el("dd", {}, m.link
            ? el("a", { href: m.link, class: "mono verify-link", rel: "noreferrer", target: "_blank" }, "verify the address")
            : "none found"))));
    }
    return block;
  }

  // traceBlock is the registration's trace as a waterfall: one row per span
  // (service, name, indented under its parent), its bar placed on the
  // trace's time line, errors marked. Positions are set through the CSSOM:
  // the page's content policy refuses style attributes.
  function traceBlock(traceID, trace) {
    const spans = (trace && trace.spans) || [];
    const block = el("section", { class: "step trace", "data-trace-spans": String(spans.length) },
      el("h3", {}, "trace", traceID ? el("span", { class: "mono trace-id" }, " · " + traceID) : null));
    if (!traceID) {
      block.append(el("p", { class: "hint" }, "not traced (the processes export no spans: TRACE_ENDPOINT is unset)"));
      return block;
    }
    if (!spans.length) {
      block.append(el("p", { class: "hint" }, (trace && trace.note) || "no span received yet"));
      return block;
    }
    const t = (iso) => Date.parse(iso);
    const t0 = Math.min(...spans.map((x) => t(x.start)));
    const t1 = Math.max(...spans.map((x) => t(x.end)));
    const total = Math.max(t1 - t0, 1);
    const byID = new Map(spans.map((x) => [x.span_id, x]));
    const depth = (x) => {
      let n = 0;
      for (let p = byID.get(x.parent_id); p && n < 32; p = byID.get(p.parent_id)) n++;
      return n;
    };
    // A branch call that started after the gateway's span it hangs under
    // had ended is DTM's retry (its cron, seconds or minutes later): the
    // branch was down or failed while the gateway waited.
    const retried = (x) => {
      if (x.kind !== "server" || x.service === "userapi") return false;
      for (let p = byID.get(x.parent_id), n = 0; p && n < 32; p = byID.get(p.parent_id), n++) {
        if (p.service === "userapi") return t(x.start) > t(p.end);
      }
      return false;
    };
    const rows = el("div", { class: "waterfall" });
    for (const x of spans) {
      const ms = t(x.end) - t(x.start); // the page's clock has ms, not the spans' ns
      const retry = retried(x);
      const label = el("span", { class: "span-label", title: x.service + " · " + x.name + (x.status ? " · " + x.status : "") +
          (retry ? " · retried by DTM after the submit returned" : "") },
        el("span", { class: "span-service" }, x.service), " ", el("span", { class: "mono" }, x.name),
        retry ? el("span", { class: "badge retry" }, "retry") : null);
      label.style.paddingLeft = (depth(x) * 12) + "px";
      const bar = el("span", { class: "span-bar" });
      bar.style.marginLeft = ((t(x.start) - t0) / total * 100) + "%";
      bar.style.width = Math.max(ms / total * 100, 0.5) + "%";
      rows.append(el("div", {
        class: "span-row" + (x.error ? " error" : ""), "data-span-service": x.service, "data-span-name": x.name,
        "data-span-kind": x.kind, "data-span-error": String(Boolean(x.error)), "data-span-retry": String(retry),
      }, label, el("span", { class: "span-track" }, bar), el("span", { class: "span-ms" }, ms < 1 ? "< 1 ms" : Math.round(ms) + " ms")));
    }
    block.append(rows);
    if (trace.dropped) block.append(el("p", { class: "hint" }, trace.dropped + " more spans were not kept"));
    return block;
  }

  // readModelBlock says whether the read model (GET /users/{id}, the
  // leaderboard) has the user yet: a completed registration appears once
  // the projector applied its event; a compensated one never does.
  function readModelBlock(rm) {
    const block = el("section", { class: "step read-model", "data-read-model": String(Boolean(rm.present)) },
      el("h3", {}, "read model"));
    if (rm.note) {
      block.append(el("p", { class: "hint" }, rm.note));
      return block;
    }
    const state = rm.present ? "has the user" : "does not have the user";
    const fields = [el("dt", {}, "profile"), el("dd", {}, state)];
    if (rm.present) {
      fields.push(el("dt", {}, "score"), el("dd", { class: "mono" }, String(rm.score ?? "")),
        el("dt", {}, "email verified"), el("dd", { class: "mono" }, String(Boolean(rm.email_verified))));
    }
    fields.push(el("dt", {}, "as of"), el("dd", { title: rm.as_of || "" }, rm.as_of ? dateTime(rm.as_of) : "—"));
    block.append(el("div", { class: "row-block" }, el("dl", {}, ...fields)));
    return block;
  }

  // branchRow shows when the branch finished as seconds after the saga
  // started (DTM keeps whole seconds), with the clock time on hover.
  function branchRow(b, saga) {
    let when = "—";
    if (b.finish_time) {
      const secs = Math.round((Date.parse(b.finish_time) - Date.parse(saga.created_at)) / 1000);
      when = isNaN(secs) ? clock(b.finish_time) : "+" + secs + " s";
    }
    const idle = b.status === "pending" && saga.status !== "pending";
    return el("tr", {
      "data-branch-id": b.branch_id, "data-method": b.method, "data-op": b.op, "data-status": b.status,
    },
    el("td", {}, el("span", { class: "mono" }, b.method), el("span", { class: "op" }, b.op)),
    el("td", {}, idle ? el("span", { class: "badge idle", title: "the saga is finished; this will not run" }, b.status) : badge(b.status)),
    el("td", { class: "time", title: b.finish_time ? "finished " + clock(b.finish_time) + " · " + b.finish_time : "not finished" }, when),
    el("td", { class: "effect" }, b.effect));
  }

  function rowBlock(table, row) {
    const exists = Boolean(row && row.exists);
    const block = el("div", { class: "row-block", "data-table": table, "data-exists": String(exists) },
      el("h4", {}, el("span", { class: "mono" }, table), el("span", { class: "state" }, exists ? "row exists" : "no row")));
    if (exists) {
      block.append(el("dl", {}, ...FIELDS[table].flatMap(([label, key]) => [
        el("dt", {}, label),
        TIMES.has(key)
          ? el("dd", { title: row[key] || "" }, row[key] ? dateTime(row[key]) : "—")
          : el("dd", { class: key === "username" ? "" : "mono" }, String(row[key] ?? "")),
      ])));
    }
    return block;
  }

  // ---- polling ----

  function setFeed(err) {
    feed.className = err ? "feed down" : "feed live";
    feed.textContent = err ? err.message : "live · " + new Date().toLocaleTimeString([], { hour12: false });
  }

  async function tick() {
    const results = await Promise.allSettled([refreshList(), refreshDetail()]);
    const failed = results.find((r) => r.status === "rejected");
    setFeed(failed ? failed.reason : null);
    setTimeout(tick, POLL_MS);
  }

  window.addEventListener("hashchange", () => {
    markSelected();
    refreshDetail().catch(setFeed);
  });
  tick();
})();
