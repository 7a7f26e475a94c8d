// otel-cot trace report: inlined into the page by otel_cot/report/html.py (runs by the page's CSP nonce).
// Collapsing subtrees, the toolbar (expand/collapse all, details, flagged path only, filter), and
// #span-<id> links that open a span wherever it is.
(function(){
  "use strict";
  function spanOf(el){ while(el && !(el.classList && el.classList.contains("span"))) el = el.parentElement; return el; }
  function reveal(el){
    for (var p = el.parentElement; p; p = p.parentElement){
      if (p.classList && p.classList.contains("span")) { p.classList.remove("collapsed"); p.classList.remove("filtered-out"); }
      if (p.classList && p.classList.contains("tree")) p.classList.remove("flagged-only");
    }
    el.classList.remove("filtered-out");
  }
  function go(hash){
    if (!hash || hash.length < 2) return;
    var el = document.getElementById(decodeURIComponent(hash.slice(1)));
    if (!el || !el.classList.contains("span")) return;
    reveal(el);
    var d = el.querySelector(":scope > details"); if (d) d.open = true;
    var prev = document.querySelectorAll(".span.target");
    for (var i = 0; i < prev.length; i++) prev[i].classList.remove("target");
    el.classList.add("target");
    el.scrollIntoView({block: "center"});
  }
  document.addEventListener("click", function(ev){
    var tw = ev.target.closest && ev.target.closest(".tw");
    if (tw){ ev.preventDefault(); ev.stopPropagation(); spanOf(tw).classList.toggle("collapsed"); return; }
    var a = ev.target.closest && ev.target.closest("a.jump, .ids a");
    if (a){ ev.preventDefault(); var h = a.getAttribute("href"); history.replaceState(null, "", h); go(h); return; }
    var b = ev.target.closest && ev.target.closest("button[data-act]");
    if (!b) return;
    var sec = b.closest("section"), all = sec.querySelectorAll(".span"), i;
    var act = b.getAttribute("data-act");
    for (i = 0; i < all.length; i++){
      if (act === "expand") all[i].classList.remove("collapsed");
      if (act === "collapse" && all[i].querySelector(":scope > .children > .span")) all[i].classList.add("collapsed");
    }
    if (act === "collapse"){ var tops = sec.querySelectorAll(".tree > .span"); for (i = 0; i < tops.length; i++) tops[i].classList.remove("collapsed"); }
    if (act === "details"){
      var ds = sec.querySelectorAll("details.sp"), open = b.textContent.indexOf("Open") === 0;
      for (i = 0; i < ds.length; i++) ds[i].open = open;
      b.textContent = open ? "Close all details" : "Open all details";
    }
  });
  document.addEventListener("change", function(ev){
    var t = ev.target;
    if (t.getAttribute && t.getAttribute("data-act") === "flagged-only")
      t.closest("section").querySelector(".tree").classList.toggle("flagged-only", t.checked);
  });
  document.addEventListener("input", function(ev){
    var t = ev.target;
    if (!(t.getAttribute && t.getAttribute("data-act") === "filter")) return;
    var q = t.value.toLowerCase(), all = t.closest("section").querySelectorAll(".span"), i, s;
    for (i = all.length - 1; i >= 0; i--){
      s = all[i];
      var own = s.querySelector(":scope > details").textContent.toLowerCase().indexOf(q) >= 0;
      var kid = s.querySelector(":scope > .children > .span:not(.filtered-out)");
      s.classList.toggle("filtered-out", !!q && !own && !kid);
      if (q && kid) s.classList.remove("collapsed");
    }
  });
  window.addEventListener("hashchange", function(){ go(location.hash); });
  document.documentElement.setAttribute("data-report", "ready");
  go(location.hash);
})();
