// The share page's Copy button for a new link.

import { copyWithFeedback } from "../markdown.js";

const button = document.getElementById("share-copy");
if (button) {
  const field = document.getElementById(button.dataset.copyTarget);
  field.addEventListener("focus", () => field.select());
  button.addEventListener("click", () => copyWithFeedback(button, field.value));
}
