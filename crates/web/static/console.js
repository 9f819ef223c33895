// spamhattan console: live updates over Server-Sent Events (/events). No inline script, and
// no markup built from strings: every value from a mail is set with textContent, so it stays text.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var count = 0;
  function cell(row, text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.setAttribute("href", href);
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }
  function badge() {
    count += 1;
    var live = document.getElementById("live");
    var n = document.getElementById("live-count");
    if (live && n) { n.textContent = String(count); live.hidden = false; }
  }
  function prepend(tableId, row) {
    var table = document.getElementById(tableId);
    if (!table || !table.tBodies.length) { return; }
    row.className = "fresh";
    table.tBodies[0].insertBefore(row, table.tBodies[0].firstChild);
  }
  // Each live table names the fields of its columns: <table id="messages" data-live="received subject">.
  var links = { received: true, subject: true };
  function fill(tableId, item, href) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var keys = (table.getAttribute("data-live") || "").split(" ");
    var row = document.createElement("tr");
    keys.forEach(function (k) {
      if (!k) { return; }
      var v = item[k] === undefined || item[k] === null ? "" : String(item[k]);
      cell(row, v, href && links[k] ? href : null);
    });
    prepend(tableId, row);
  }
  var source = new EventSource("/events");
  source.addEventListener("message-captured", function (e) {
    var m;
    try { m = JSON.parse(e.data); } catch (_) { return; }
    badge();
    var id = String(m.id || "");
    if (!/^[0-9a-f-]{36}$/.test(id)) { return; }
    fill("messages", m, "/messages/" + id);
  });
  source.addEventListener("alert-raised", function (e) {
    var a;
    try { a = JSON.parse(e.data); } catch (_) { return; }
    badge();
    fill("alerts", a, null);
  });
})();
