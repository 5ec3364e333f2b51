// Each diagram fits the width unless that would make it unreadable (a very wide procedure): then it keeps its
// actual size and scrolls to the highlighted step, or else the first active one. A click switches between the two.
function centre(figure) {
  var target = figure.querySelector(".lf-highlight") || figure.querySelector(".state-active");
  if (!target) { return; }
  var box = target.getBoundingClientRect(), frame = figure.getBoundingClientRect();
  figure.scrollLeft += box.left - frame.left - (frame.width - box.width) / 2;
  figure.scrollTop += box.top - frame.top - (frame.height - box.height) / 2;
}
document.querySelectorAll("figure.diagram").forEach(function (figure) {
  var svg = figure.querySelector("svg");
  if (!svg) { return; }
  var natural = svg.viewBox && svg.viewBox.baseVal ? svg.viewBox.baseVal.width : svg.getBoundingClientRect().width;
  if (natural > 2.5 * figure.clientWidth) { figure.classList.add("actual"); centre(figure); }
  svg.addEventListener("click", function () { figure.classList.toggle("actual"); centre(figure); });
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
