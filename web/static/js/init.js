// Starts GOV.UK Frontend's components; a file, because the CSP forbids inline script.
import { initAll } from "/static/govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
