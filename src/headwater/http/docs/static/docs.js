// Starts Swagger UI from a same-origin file: the server's CSP allows no inline script.
// The document's URL is read from the page, so this file stays the same for every app.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Validation would call validator.swagger.io: no third party, and none reachable offline.
    validatorUrl: null,
  });
})();
