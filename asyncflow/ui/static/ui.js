// Live run pages: follow the run's server-sent events and refresh the live section.
"use strict";
(function () {
  const section = document.getElementById("live");
  if (!section || !section.dataset.events) return;
  const source = new EventSource(section.dataset.events);
  let pending = false;
  async function refresh() {
    if (pending) return;
    pending = true;
    try {
      const response = await fetch(section.dataset.fragment, { cache: "no-store" });
      if (response.ok) section.innerHTML = await response.text();
    } finally {
      pending = false;
    }
  }
  source.addEventListener("change", refresh);
  source.addEventListener("done", function () {
    source.close();
    window.location.reload();
  });
})();
