/* Evidentia evidence portal: tabs, search and filters over the server-rendered page.
   Inlined into index.html and pinned by hash in its CSP; it never fetches anything and only
   reads data the page already holds, so it works from file:// and from an unzipped copy. */
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.classList.add("js");
  var views = Array.prototype.slice.call(doc.querySelectorAll("main > section.view"));
  var navLinks = Array.prototype.slice.call(doc.querySelectorAll("nav.views a"));
  var data = JSON.parse(doc.getElementById("portal-data").textContent);

  function viewOf(el) {
    while (el && !(el.tagName === "SECTION" && el.classList.contains("view"))) { el = el.parentElement; }
    return el;
  }

  /* Show the view holding the element named by the URL fragment, and move focus there, so links,
     the back button and keyboard users all land where a link points. */
  function show(id, focus) {
    var target = id ? doc.getElementById(id) : null;
    var view = viewOf(target) || views[0];
    views.forEach(function (v) { v.hidden = v !== view; });
    navLinks.forEach(function (a) {
      if (a.getAttribute("href") === "#" + view.id) { a.setAttribute("aria-current", "page"); }
      else { a.removeAttribute("aria-current"); }
    });
    if (!focus) { return; }
    var el = target || view;
    var parent = el.parentElement;
    while (parent) { if (parent.tagName === "DETAILS") { parent.open = true; } parent = parent.parentElement; }
    if (!el.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT)$/.test(el.tagName)) {
      el.setAttribute("tabindex", "-1");
    }
    el.focus({ preventScroll: true });
    el.scrollIntoView({ block: "start" });
  }

  function fragment() {
    try { return decodeURIComponent(location.hash.slice(1)); } catch (e) { return location.hash.slice(1); }
  }

  window.addEventListener("hashchange", function () { show(fragment(), true); });

  /* Free-text filters over a view's rows (principles, controls, instances, days). */
  /* A row's searchable text: what it shows, plus the paths its links point to. */
  function textOf(el) {
    var hrefs = Array.prototype.map.call(el.querySelectorAll("a[href]:not([href^='#'])"), function (a) {
      return decodeURIComponent(a.getAttribute("href"));
    });
    return ((el.textContent || "") + " " + hrefs.join(" ")).toLowerCase();
  }
  function terms(text) { return text.trim().toLowerCase().split(/\s+/).filter(Boolean); }
  function matches(text, words) {
    for (var i = 0; i < words.length; i++) { if (text.indexOf(words[i]) < 0) { return false; } }
    return true;
  }
  Array.prototype.forEach.call(doc.querySelectorAll("input[data-filter-rows]"), function (input) {
    var scope = doc.getElementById(input.getAttribute("data-filter-rows"));
    var rows = Array.prototype.slice.call(scope.querySelectorAll("[data-row]"));
    var texts = null;
    input.addEventListener("input", function () {
      texts = texts || rows.map(textOf);
      var words = terms(input.value);
      rows.forEach(function (row, i) { row.hidden = !matches(texts[i], words); });
    });
  });

  /* The artefact table: search plus principle, control, instance, status, day and findings filters. */
  var form = doc.getElementById("artefact-filters");
  var table = doc.getElementById("artefact-table");
  var count = doc.getElementById("artefact-count");
  var rows = table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
  var more = doc.getElementById("artefact-more");
  var rowTexts = null;
  var timer = null;
  /* Rows are shown a page at a time: laying out thousands of table rows takes the browser
     seconds, a few hundred take milliseconds, and nobody reads thousands of rows at once. */
  var PAGE = 250;
  var limit = PAGE;

  function applyFilters(keepLimit) {
    if (keepLimit !== true) { limit = PAGE; }
    rowTexts = rowTexts || rows.map(textOf);
    var words = terms(form.q.value);
    var principle = form.principle.value;
    var control = form.control.value;
    var wanted = control ? (data.controls[control] || []) : null;
    var instance = form.instance.value;
    var status = form.status.value;
    var day = form.day.value;
    var withFindings = form.findings.checked;
    var currentOnly = form.current.checked;
    var matched = 0;
    rows.forEach(function (row, i) {
      var ds = row.dataset;
      var ps = ds.p ? ds.p.split(" ") : [];
      var ok = matches(rowTexts[i], words)
        && (!principle || ps.indexOf(principle) >= 0)
        && (!wanted || ps.some(function (p) { return wanted.indexOf(p) >= 0; }))
        && (!instance || ds.i === instance)
        && (!status || ds.s === status)
        && (!day || ds.d === day)
        && (!withFindings || ds.f !== "0")
        && (!currentOnly || ds.c === "1");
      if (ok) { matched++; }
      row.hidden = !ok || matched > limit;
    });
    var text = matched === rows.length ? rows.length + " artefacts" : matched + " of " + rows.length + " artefacts match";
    if (matched > limit) { text += "; showing the newest " + limit; }
    count.textContent = text;
    more.hidden = matched <= limit;
  }

  if (form) {
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(applyFilters, 120); });
    form.addEventListener("change", applyFilters);
    form.addEventListener("reset", function () { setTimeout(applyFilters, 0); });
    form.addEventListener("submit", function (e) { e.preventDefault(); applyFilters(); });
    more.addEventListener("click", function () { limit += 4 * PAGE; applyFilters(true); });
    applyFilters();
  }

  /* Links elsewhere in the page that open the artefact table already filtered
     (a principle's "all artefacts", a control's, an instance's, a day's). */
  doc.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[data-filter]") : null;
    if (!a || !form) { return; }
    form.reset();
    var field = form.elements[a.getAttribute("data-filter")];
    if (field) { field.value = a.getAttribute("data-value"); }
    applyFilters();
    if (location.hash === "#artefacts") { e.preventDefault(); show("artefacts", true); }
  });

  /* Printing shows everything: folded provisions and long finding lists open for the print only. */
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(doc.querySelectorAll("details:not([open])"), function (d) {
      d.open = true;
      return true;
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });

  show(fragment(), !!location.hash);
}());
