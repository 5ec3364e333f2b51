// Scroll each diagram so that the highlighted step, or else the first active one, is in view.
document.querySelectorAll("figure.diagram").forEach(function (figure) {
  var target = figure.querySelector(".lf-highlight") || figure.querySelector(".state-active");
  if (!target) { return; }
  var box = target.getBoundingClientRect(), frame = figure.getBoundingClientRect();
  figure.scrollLeft += box.left - frame.left - (frame.width - box.width) / 2;
  figure.scrollTop += box.top - frame.top - (frame.height - box.height) / 2;
});

// A lint report row names a diagram element: clicking it (or Enter) outlines that element and brings it into view.
document.querySelectorAll("tr[data-element-id]").forEach(function (row) {
  function pick() {
    var id = row.getAttribute("data-element-id");
    document.querySelectorAll("figure.diagram .lf-picked").forEach(function (el) { el.classList.remove("lf-picked"); });
    document.querySelectorAll("tr.picked").forEach(function (el) { el.classList.remove("picked"); });
    row.classList.add("picked");
    var target = document.querySelector('figure.diagram [data-element-id="' + CSS.escape(id) + '"]');
    if (!target) { return; }
    target.classList.add("lf-picked");
    var figure = target.closest("figure.diagram"), box = target.getBoundingClientRect(),
        frame = figure.getBoundingClientRect();
    figure.scrollLeft += box.left - frame.left - (frame.width - box.width) / 2;
    figure.scrollTop += box.top - frame.top - (frame.height - box.height) / 2;
    figure.scrollIntoView({block: "nearest"});
  }
  row.addEventListener("click", pick);
  row.addEventListener("keydown", function (event) { if (event.key === "Enter") { pick(); } });
});
