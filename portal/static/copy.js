// Copy buttons for the portal's credentials and commands. The pages
// work without it: the text is selectable (user-select: all).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll(".copy")) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "copy-button";
    b.textContent = "Copy";
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(el.textContent);
        b.textContent = "Copied";
        b.dataset.copied = "clipboard";
      } catch {
        const range = document.createRange();
        range.selectNodeContents(el);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        b.textContent = "Press Ctrl+C";
        b.dataset.copied = "selection";
      }
      setTimeout(() => { b.textContent = "Copy"; }, 2000);
    });
    el.after(b);
  }
});
