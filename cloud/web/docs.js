// The hub's API documentation (/docs): Swagger UI served by the hub itself, no CDN and no inline script
// (the hub's Content-Security-Policy allows scripts from its own files only).
const ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  persistAuthorization: false,
});
window.ui = ui;
