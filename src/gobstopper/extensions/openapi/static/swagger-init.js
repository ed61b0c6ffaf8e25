// Starts Swagger UI on the page served by gobstopper.extensions.openapi. A file, not an inline script, so the
// page's Content-Security-Policy can say script-src 'self'. The document's URL comes from a data- attribute.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    oauth2RedirectUrl: new URL(root.getAttribute("data-oauth2-redirect-url"), window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never send the document to an online validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
