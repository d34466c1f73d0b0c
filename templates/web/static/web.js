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
