// /api/docs: Swagger UI over Kindling's OpenAPI document.
// A test token arrives in the URL fragment (#token=...), which the browser never sends to a
// server; it is removed from the address bar at once and handed to Swagger UI as the bearer.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var audience = root.getAttribute("data-audience");
  var token = null;
  var hash = window.location.hash.replace(/^#/, "");
  var match = /(?:^|&)token=([^&]+)/.exec(hash);
  if (match) {
    token = decodeURIComponent(match[1]);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  function claimsOf(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (part.length % 4) part += "=";
      return JSON.parse(atob(part));
    } catch (e) {
      return {};
    }
  }

  function showBanner(jwt) {
    var banner = document.getElementById("token-banner");
    var claims = claimsOf(jwt);
    var scopes = claims.scope || (claims.scp || []).join(" ");
    var expires = claims.exp ? new Date(claims.exp * 1000) : null;
    banner.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = "Test token applied. ";
    banner.appendChild(strong);
    banner.appendChild(document.createTextNode("Requests below are sent with it as the bearer"
      + (claims.azp ? " (client " + claims.azp + ")" : "") + ". Scopes: "));
    var code = document.createElement("code");
    code.textContent = scopes || "none";
    banner.appendChild(code);
    if (expires) {
      banner.appendChild(document.createTextNode(". Expires " + expires.toLocaleString() + "."));
      if (expires.getTime() < Date.now()) banner.classList.add("expired");
    }
    banner.hidden = false;
  }

  // Swagger UI's client-credentials flow puts extra parameters in the token URL's query;
  // Kindling (like Kinde) wants the audience in the form body, so add it there.
  function addAudience(request) {
    if (/\/oauth2\/token$/.test(request.url.split("?")[0]) && typeof request.body === "string"
        && !/(^|&)audience=/.test(request.body)) {
      request.body += (request.body ? "&" : "") + "audience=" + encodeURIComponent(audience);
    }
    return request;
  }

  var ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    filter: true,
    persistAuthorization: false,
    showExtensions: true,
    requestInterceptor: addAudience,
    onComplete: function () {
      if (token) {
        ui.preauthorizeApiKey("kindeBearerAuth", token);
        showBanner(token);
      }
    }
  });
  window.ui = ui;
})();
