// Starts Swagger UI on /api/docs (shared/api_docs.py). It lives in a file, not in the page, so
// the Content-Security-Policy can forbid inline scripts (script-src 'self'). Swagger UI itself
// comes from our own node_modules (/assets/vendor/swagger-ui-bundle.js).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var status = document.getElementById("api-docs-status");
  if (!root) {
    return;
  }
  if (typeof window.SwaggerUIBundle !== "function") {
    if (status) {
      status.textContent =
        "API 文档界面暂不可用 (API docs unavailable: Swagger UI did not load). OpenAPI: " +
        root.dataset.openapiUrl;
    }
    return;
  }
  var SwaggerUIBundle = window.SwaggerUIBundle;
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // no badge from validator.swagger.io, no ?url=/?configUrl= taken from the address bar
    validatorUrl: null,
    queryConfigEnabled: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    onComplete: function () {
      if (status) {
        status.remove();
      }
      document.body.dataset.ready = "1";
    },
  });
})();
