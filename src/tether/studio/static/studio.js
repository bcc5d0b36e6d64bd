// Tether Studio's only script: times in the reader's locale, the job page's live log (server-sent events),
// and the sign-in's hand-back to a native client (response_mode=form_post).
// Every page works without it (times then show in UTC, logs stay empty).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  for (const el of document.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) { el.title = el.textContent; el.textContent = format.format(when); }
  }
  const handBack = document.querySelector("form[data-autosubmit]");
  if (handBack) handBack.submit();
  const log = document.getElementById("log");
  if (log && window.EventSource) follow(log);
});

function follow(log) {
  const state = document.getElementById("log-state");
  const source = new EventSource(log.dataset.src);
  let lines = 0;
  source.onmessage = (event) => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(JSON.parse(event.data) + "\n");
    lines += 1;
    if (atEnd) log.scrollTop = log.scrollHeight;
  };
  source.addEventListener("end", () => {
    source.close();
    if (state) state.textContent = lines ? "ended" : "no output";
  });
  source.addEventListener("notice", (event) => {
    source.close();
    const notice = JSON.parse(event.data);
    if (state) state.textContent = notice.message;
    // Not on the cluster yet: try again shortly while the job is not finished.
    if (log.dataset.final !== "true") setTimeout(() => follow(log), 2000);
  });
  source.onerror = () => { source.close(); if (state && !lines) state.textContent = "log stream unavailable"; };
}
