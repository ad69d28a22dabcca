package io.flowsec.control.api;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The dashboard: a static page, its script and its style from the classpath ({@value #WEBROOT}) at
 * {@value ApiServer#DASHBOARD}, and {@code /} redirecting there. The page is public (the root router lets it through
 * without a token); it asks for a token, keeps it in the tab's session storage and sends it with every API request
 * and as the event stream's subprotocol. Every answer forbids inline script and style, framing and caching: the page
 * inserts what the API says as text, and a policy that allows only its own files keeps it so.
 */
public final class Dashboard implements ApiServer.Extension {
    /** Where the page lives on the classpath. */
    static final String WEBROOT = "webroot/ui";
    static final String CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self' wss: ws:; img-src 'self' data:; "
            + "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
            + "frame-ancestors 'none'";

    @Override
    public void mount(Router root) {
        root.get("/").handler(context -> secure(context).setStatusCode(302)
                .putHeader(HttpHeaders.LOCATION, ApiServer.DASHBOARD).end());
        StaticHandler files = StaticHandler.create(WEBROOT)
                .setCachingEnabled(false)
                .setDirectoryListing(false)
                .setIncludeHidden(false)
                .setIndexPage("index.html");
        root.route(ApiServer.DASHBOARD + "*").handler(context -> {
            secure(context);
            context.next();
        }).handler(files);
    }

    private static HttpServerResponse secure(RoutingContext context) {
        return context.response()
                .putHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                .putHeader("X-Frame-Options", "DENY")
                .putHeader("Referrer-Policy", "no-referrer")
                .putHeader(HttpHeaders.CACHE_CONTROL, "no-store");
    }
}
