// Scroll each diagram so that the highlighted step, or else the first active one, is in view.
document.querySelectorAll("figure.diagram").forEach(function (figure) {
  var target = figure.querySelector(".lf-highlight") || figure.querySelector(".state-active");
  if (!target) { return; }
  var box = target.getBoundingClientRect(), frame = figure.getBoundingClientRect();
  figure.scrollLeft += box.left - frame.left - (frame.width - box.width) / 2;
  figure.scrollTop += box.top - frame.top - (frame.height - box.height) / 2;
});
