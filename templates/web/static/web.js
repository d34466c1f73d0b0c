// Live preview on the profile page: post the unsaved form, show the digest it would get.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("profile-form");
  const panel = document.getElementById("preview");
  if (!form || !panel) return;
  let timer = null;
  let latest = 0;
  const refresh = async () => {
    const ticket = ++latest;
    const response = await fetch(form.dataset.preview, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    });
    const html = await response.text();
    if (ticket === latest) panel.innerHTML = html; // the server escaped it (Jinja autoescape)
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
});

// Live preview of a saved search: the same form, posted with action=preview, panel only.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search-form");
  if (!form) return;
  let timer = null;
  let latest = 0;
  const refresh = async () => {
    const ticket = ++latest;
    const body = new URLSearchParams(new FormData(form));
    body.set("action", "preview");
    const response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { "X-Preview": "1" },
      credentials: "same-origin",
    });
    const panel = document.getElementById("search-preview");
    if (response.ok && ticket === latest && panel) panel.outerHTML = await response.text();
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
});
