package io.flowsec.control.api;

import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.config.PersistentConfiguration;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RequestExtractor;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.validation.SchemaValidationException;
import io.vertx.openapi.validation.ValidatedRequest;
import io.vertx.openapi.validation.ValidatorException;

import io.flowsec.control.security.LoginThrottle;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The control API's HTTP server: REST under {@value #BASE}, described by the OpenAPI document it serves and validates
 * every request against, so the document cannot drift from the code. Each request passes through:
 * <ol>
 *   <li>authentication: a bearer token (all but {@code /health}, {@code /openapi.json} and the dashboard's page),
 *       in the {@code Authorization} header or, on a WebSocket upgrade, as the subprotocol
 *       {@value #BEARER_SUBPROTOCOL}{@code TOKEN}; failures rate limited per client address; a read-only token reads,
 *       an admin token also changes (else 401, 403 or 429);</li>
 *   <li>the body, at most {@link Settings#maxBodyBytes} (else 413);</li>
 *   <li>validation against the contract (else 400 naming the field);</li>
 *   <li>the resource: a read answers from the data plane at once; a change runs on the one change thread, after its
 *       {@code If-Match} is checked against the configuration version (else 409), and is applied and recorded
 *       together;</li>
 *   <li>any refusal becomes RFC 9457 problem details; nothing returns key material or a stack trace.</li>
 * </ol>
 * It runs on a Vert.x instance of the control plane's own, never on the lanes' event loops.
 */
public final class ApiServer implements AutoCloseable {
    public static final String BASE = "/api/v1";
    private static final Set<String> PUBLIC = Set.of(BASE + "/health", BASE + "/openapi.json");
    /** The dashboard's page and assets: public, the page asks for a token and sends it with every request. */
    public static final String DASHBOARD = "/ui/";
    private static final String CALLER = "flowsec.caller";
    /**
     * Browsers cannot set headers on a WebSocket request, only offer subprotocols: a WebSocket upgrade without an
     * {@code Authorization} header may offer its token as the subprotocol {@code bearer.TOKEN} instead.
     */
    public static final String BEARER_SUBPROTOCOL = "bearer.";
    static final String SEC_WEBSOCKET_PROTOCOL = "Sec-WebSocket-Protocol";

    /**
     * @param host         the management address to listen on (never a wildcard unless configured so)
     * @param port         0 for an ephemeral port (tests)
     * @param tls          the certificate and key; null serves plain HTTP (tests and explicit configuration only)
     * @param maxBodyBytes larger request bodies are refused with 413
     */
    public record Settings(String host, int port, KeyCertOptions tls, int maxBodyBytes) {
    }

    /**
     * Routes beside the contract's (the event stream, metrics, the dashboard), mounted on the root router after
     * authentication and before the contract's routes and the 404 fallback.
     */
    @FunctionalInterface
    public interface Extension {
        void mount(Router root);

        /**
         * A change the API applied (recorded or not: it is in effect either way), on the change thread, after the
         * data plane took it. It may hold key material ({@link ConfigurationChange.SaRekeyed}): pass on what it
         * describes, never the keys. Must not block.
         */
        default void onChange(ConfigurationChange change) {
        }
    }

    private final Vertx vertx;
    private final HttpServer server;
    private final WorkerExecutor changes;
    private final long samplerTimer;

    private ApiServer(Vertx vertx, HttpServer server, WorkerExecutor changes, long samplerTimer) {
        this.vertx = vertx;
        this.server = server;
        this.changes = changes;
        this.samplerTimer = samplerTimer;
    }

    public static Future<ApiServer> start(Vertx vertx, Settings settings, ApplianceInfo info, DataplaneControl dataplane,
                                          PersistentConfiguration configuration, Caller.Authenticator authenticator,
                                          LoginThrottle logins, java.util.List<Extension> extensions,
                                          Consumer<String> log) {
        return start(vertx, settings, info, dataplane, configuration, authenticator, logins, extensions,
                TunnelControl.NONE, log);
    }

    /** With the cluster's tunnels under {@code /tunnels}. */
    public static Future<ApiServer> start(Vertx vertx, Settings settings, ApplianceInfo info, DataplaneControl dataplane,
                                          PersistentConfiguration configuration, Caller.Authenticator authenticator,
                                          LoginThrottle logins, java.util.List<Extension> extensions,
                                          TunnelControl tunnels, Consumer<String> log) {
        JsonObject document;
        try {
            document = contract();
        } catch (IOException e) {
            return Future.failedFuture(e);
        }
        LaneLoad laneLoad = new LaneLoad(dataplane);
        laneLoad.sample();
        long samplerTimer = vertx.setPeriodic(1000, id -> laneLoad.sample());
        ApiResources resources = new ApiResources(info, dataplane, configuration, laneLoad, tunnels,
                change -> extensions.forEach(extension -> extension.onChange(change)), log);
        WorkerExecutor changes = vertx.createSharedWorkerExecutor("flowsec-api-changes", 1, 5, TimeUnit.MINUTES);
        AtomicLong version = new AtomicLong(1);
        return OpenAPIContract.from(vertx, document.copy()).compose(contract -> {
            RouterBuilder builder = RouterBuilder.create(vertx, contract, RequestExtractor.withBodyHandler());
            builder.rootHandler(BodyHandler.create(false).setBodyLimit(settings.maxBodyBytes()));
            Routes routes = new Routes(builder, changes, version, resources);
            routes.read("getHealth", context -> new JsonObject().put("status", "up"));
            routes.read("getOpenApi", context -> document);
            routes.read("getAppliance", context -> resources.appliance(version.get()));
            routes.read("getLanes", context -> resources.lanes());
            routes.read("getLane", context -> resources.lane(pathInt(context, "lane")));
            routes.read("getMode", context -> resources.mode());
            routes.change("putMode", 200, context -> resources.setMode(new ModeRequest(body(context))));
            routes.read("getSteering", context -> resources.steering());
            routes.change("putSteering", 200, context -> resources.setSteering(new SteeringRequest(body(context))));
            routes.read("getPolicies", context -> resources.policies());
            routes.read("getPolicy", context -> resources.policy(pathString(context, "policy")));
            routes.change("createPolicy", 201, context -> resources.setPolicy(body(context).getString("name"),
                    body(context), false));
            routes.change("replacePolicy", 200, context -> resources.setPolicy(pathString(context, "policy"),
                    body(context), true));
            routes.change("deletePolicy", 204, context -> {
                resources.removePolicy(pathString(context, "policy"));
                return null;
            });
            routes.read("getWeights", context -> resources.weights(pathString(context, "policy")));
            routes.change("putWeights", 200, context -> resources.setWeights(pathString(context, "policy"),
                    new WeightsRequest(body(context))));
            routes.change("addInboundSa", 201, context -> resources.addInbound(pathString(context, "policy"),
                    new AddSaRequest(body(context))));
            routes.read("getSas", context -> resources.sas());
            routes.read("getSa", context -> resources.sa(direction(context), Spis.parse(pathString(context, "spi"), "spi")));
            routes.change("deleteSa", 204, context -> {
                resources.remove(direction(context), Spis.parse(pathString(context, "spi"), "spi"));
                return null;
            });
            routes.change("rekeySa", 201, context -> resources.rekey(direction(context),
                    Spis.parse(pathString(context, "spi"), "spi"), new RekeyRequest(body(context))));
            routes.read("getInboundLane", context -> resources.inboundLane(Spis.parse(pathString(context, "spi"), "spi")));
            routes.change("putInboundLane", 200, context -> resources.setInboundLane(
                    Spis.parse(pathString(context, "spi"), "spi"), new LaneRequest(body(context))));
            routes.read("getDrops", context -> resources.drops());
            routes.read("getTunnels", context -> resources.tunnels());
            routes.read("getTunnel", context -> resources.tunnel(pathString(context, "tunnel")));
            routes.read("getAssignment", context -> resources.assignment(pathString(context, "tunnel")));
            routes.read("getBalancing", context -> resources.balancing(pathString(context, "tunnel")));
            routes.change("putBalancing", 200, context -> resources.setBalancing(pathString(context, "tunnel"),
                    new BalancingRequest(body(context))));
            for (OpenAPIRoute route : builder.getRoutes()) {
                route.setDoSecurity(false);   // authentication runs first, as a root handler
                route.addFailureHandler(context -> problem(context, log));
            }
            Router root = Router.router(vertx);
            root.route().handler(context -> authenticate(context, authenticator, logins));
            root.route().failureHandler(context -> problem(context, log));
            for (Extension extension : extensions) {
                extension.mount(root);
            }
            root.route(BASE + "/*").subRouter(builder.createRouter());   // the contract's paths, under its server URL
            root.route().last().handler(context -> context.fail(404));
            HttpServerOptions options = new HttpServerOptions().setHost(settings.host()).setPort(settings.port())
                    .setCompressionSupported(true);
            if (settings.tls() != null) {
                options.setSsl(true).setKeyCertOptions(settings.tls());
            }
            return vertx.createHttpServer(options).requestHandler(root).listen();
        }).map(server -> new ApiServer(vertx, server, changes, samplerTimer))
                .onFailure(failure -> {
                    vertx.cancelTimer(samplerTimer);
                    changes.close();
                });
    }

    /** The port the server listens on (the ephemeral one when started with port 0). */
    public int port() {
        return server.actualPort();
    }

    @Override
    public void close() {
        vertx.cancelTimer(samplerTimer);
        server.close().await();
        changes.close();
    }

    // ---- the routes -----------------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface Handler {
        Object handle(RoutingContext context);
    }

    /** Mounts reads (answered on the event loop) and changes (one at a time, on the change thread). */
    private record Routes(RouterBuilder builder, WorkerExecutor changes, AtomicLong version, ApiResources resources) {
        void read(String operation, Handler handler) {
            builder.getRoute(operation).addHandler(context -> reply(context, 200, handler.handle(context), version.get()));
        }

        void change(String operation, int status, Handler handler) {
            builder.getRoute(operation).addHandler(context -> {
                String ifMatch = context.request().getHeader(HttpHeaders.IF_MATCH);
                changes.executeBlocking(() -> {
                    if (ifMatch != null && !etag(version.get()).equals(ifMatch.strip()) && !"*".equals(ifMatch.strip())) {
                        throw Problem.conflict("the configuration changed since version " + ifMatch.strip()
                                + " (now " + etag(version.get()) + "): read it again, then retry");
                    }
                    Object result = handler.handle(context);
                    return new Object[] {result, version.incrementAndGet()};
                }, true).onSuccess(done -> reply(context, status, done[0], (Long) done[1])).onFailure(context::fail);
            });
        }
    }

    private static void reply(RoutingContext context, int status, Object body, long version) {
        context.response().putHeader(HttpHeaders.ETAG, etag(version)).setStatusCode(status);
        if (body == null) {
            context.response().end();
        } else {
            context.response().putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(body instanceof JsonArray array ? array.encode() : ((JsonObject) body).encode());
        }
    }

    private static String etag(long version) {
        return "\"" + version + "\"";
    }

    private static JsonObject body(RoutingContext context) {
        ValidatedRequest request = context.get(RouterBuilder.KEY_META_DATA_VALIDATED_REQUEST);
        return request.getBody().getJsonObject();
    }

    private static String pathString(RoutingContext context, String name) {
        ValidatedRequest request = context.get(RouterBuilder.KEY_META_DATA_VALIDATED_REQUEST);
        return request.getPathParameters().get(name).getString();
    }

    private static int pathInt(RoutingContext context, String name) {
        ValidatedRequest request = context.get(RouterBuilder.KEY_META_DATA_VALIDATED_REQUEST);
        return request.getPathParameters().get(name).getInteger();
    }

    private static Direction direction(RoutingContext context) {
        return "inbound".equals(pathString(context, "direction")) ? Direction.INBOUND : Direction.OUTBOUND;
    }

    // ---- authentication -------------------------------------------------------------------------------------------

    private static void authenticate(RoutingContext context, Caller.Authenticator authenticator, LoginThrottle logins) {
        context.response().putHeader("Cache-Control", "no-store").putHeader("X-Content-Type-Options", "nosniff");
        if (isPublic(context.normalizedPath())) {
            context.next();
            return;
        }
        String address = context.request().remoteAddress() == null ? "?" : context.request().remoteAddress().hostAddress();
        Optional<Duration> refused = logins.refusedFor(address);
        if (refused.isPresent()) {
            context.response().putHeader("Retry-After", Long.toString(Math.max(1, refused.get().toSeconds())));
            context.fail(429);
            return;
        }
        String header = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        String token = header == null ? webSocketToken(context.request())
                : header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip() : null;
        Optional<Caller> caller = token != null ? authenticator.authenticate(token) : Optional.empty();
        if (caller.isEmpty()) {
            if (header != null || token != null) {
                logins.failed(address);
            }
            context.response().putHeader("WWW-Authenticate", "Bearer realm=\"flowsec\"");
            context.fail(401);
            return;
        }
        logins.succeeded(address);
        HttpMethod method = context.request().method();
        if (!caller.get().admin() && method != HttpMethod.GET && method != HttpMethod.HEAD) {
            context.fail(403);
            return;
        }
        context.put(CALLER, caller.get());
        context.next();
    }

    /** The token a WebSocket upgrade offers as the subprotocol {@value #BEARER_SUBPROTOCOL}{@code TOKEN}; else null. */
    private static String webSocketToken(HttpServerRequest request) {
        String offered = request.getHeader(SEC_WEBSOCKET_PROTOCOL);
        if (offered == null || !"websocket".equalsIgnoreCase(request.getHeader(HttpHeaders.UPGRADE))) {
            return null;
        }
        for (String subprotocol : offered.split(",")) {
            String candidate = subprotocol.strip();
            if (candidate.startsWith(BEARER_SUBPROTOCOL)) {
                return candidate.substring(BEARER_SUBPROTOCOL.length());
            }
        }
        return null;
    }

    private static boolean isPublic(String path) {
        return PUBLIC.contains(path) || path.equals("/") || path.startsWith(DASHBOARD);
    }

    /** The caller a request authenticated as; null on public paths. */
    public static Caller caller(RoutingContext context) {
        return context.get(CALLER);
    }

    // ---- problems -------------------------------------------------------------------------------------------------

    /** Every failure as problem details; an unexpected one is logged in one line and answered 500 without detail. */
    private static void problem(RoutingContext context, Consumer<String> log) {
        if (context.response().ended()) {
            return;
        }
        if (!context.request().isEnded()) {
            // refused before the body was read (the router paused the request for a body handler that never ran):
            // drain it and end this connection with the reply, so no later request on it waits behind the unread one
            context.response().putHeader(HttpHeaders.CONNECTION, "close");
            context.request().resume();
        }
        Problem problem = toProblem(context, log);
        context.response().setStatusCode(problem.status()).putHeader(HttpHeaders.CONTENT_TYPE, Problem.MEDIA_TYPE)
                .end(problem.toJson(context.request().path() == null ? "" : context.request().path()).encode());
    }

    private static Problem toProblem(RoutingContext context, Consumer<String> log) {
        Throwable failure = context.failure();
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof ValidatorException) {
                failure = cause;   // the validation handler wraps what the validator found
                break;
            }
        }
        if (failure instanceof Problem problem) {
            return problem;
        }
        if (failure instanceof SchemaValidationException invalid) {
            return Problem.badRequest(schemaReason(invalid), field(invalid));
        }
        if (failure instanceof ValidatorException invalid) {
            return Problem.badRequest(scrub(invalid.getMessage()), null);
        }
        if (failure instanceof DecodeException || failure instanceof IllegalArgumentException && failure.getCause() instanceof DecodeException) {
            return Problem.badRequest("the body is not valid JSON", null);
        }
        int status = context.statusCode();
        return switch (status) {
            case 401 -> new Problem(401, "Unauthorized", "a bearer token is required: Authorization: Bearer TOKEN"
                    + " (a WebSocket may offer the subprotocol " + BEARER_SUBPROTOCOL + "TOKEN instead)", null);
            case 403 -> new Problem(403, "Forbidden", "this token may read only; changes need an admin token", null);
            case 404 -> Problem.notFound("no resource at " + context.request().path());
            case 405 -> new Problem(405, "Method not allowed", context.request().method() + " is not allowed here", null);
            case 413 -> new Problem(413, "Payload too large", "the body is larger than this API accepts", null);
            case 415 -> new Problem(415, "Unsupported media type", "send application/json", null);
            case 429 -> new Problem(429, "Too many requests", "too many failed logins from this address; retry later", null);
            default -> {
                if (status >= 400 && status < 500) {
                    yield new Problem(status, "Client error", "the request was refused", null);
                }
                log.accept("api: internal error on " + context.request().method() + " " + context.request().path()
                        + ": " + (failure == null ? "status " + status : failure.getClass().getSimpleName()));
                yield new Problem(500, "Internal error", "the request failed inside the appliance; see its log", null);
            }
        };
    }

    /** The validator's most specific finding: the one deepest into the body (its errors nest). */
    private static io.vertx.json.schema.OutputUnit deepest(SchemaValidationException invalid) {
        io.vertx.json.schema.OutputUnit best = invalid.getOutputUnit();
        java.util.ArrayDeque<io.vertx.json.schema.OutputUnit> pending = new java.util.ArrayDeque<>();
        if (best != null) {
            pending.add(best);
        }
        while (!pending.isEmpty()) {
            io.vertx.json.schema.OutputUnit unit = pending.poll();
            if (unit.getErrors() != null) {
                pending.addAll(unit.getErrors());
            }
            if (unit.getError() != null && depth(unit) > depth(best)) {
                best = unit;
            }
        }
        return best;
    }

    private static int depth(io.vertx.json.schema.OutputUnit unit) {
        return unit == null || unit.getInstanceLocation() == null ? -1 : unit.getInstanceLocation().length();
    }

    /** The field at fault, from the validator's JSON pointer into the body ("/weights/2" → "weights[2]"). */
    private static String field(SchemaValidationException invalid) {
        io.vertx.json.schema.OutputUnit unit = deepest(invalid);
        String location = unit == null ? null : unit.getInstanceLocation();
        if (location == null || location.isEmpty() || location.equals("#")) {
            return null;
        }
        StringBuilder field = new StringBuilder();
        for (String part : location.replaceFirst("^#?/?", "").split("/")) {
            if (part.matches("\\d+")) {
                field.append('[').append(part).append(']');
            } else if (!part.isEmpty()) {
                field.append(field.isEmpty() ? "" : ".").append(part);
            }
        }
        return field.isEmpty() ? null : field.toString();
    }

    /** What the schema says is wrong, never the value: a rejected value may be key material. */
    private static String schemaReason(SchemaValidationException invalid) {
        io.vertx.json.schema.OutputUnit unit = deepest(invalid);
        String error = unit == null ? null : unit.getError();
        String keyword = unit == null ? null : unit.getKeywordLocation();
        String where = field(invalid);
        String what = keyword == null ? "is invalid" : "fails the contract's '" + keyword.substring(keyword.lastIndexOf('/') + 1) + "'";
        if (error != null && error.toLowerCase().contains("additional")) {
            what = "holds a field the contract does not define";
        } else if (error != null && error.contains("required")) {
            what = "lacks a required field: " + scrub(error);
        }
        return (where == null ? "the body " : where + " ") + what + " (see " + BASE + "/openapi.json)";
    }

    /** Drops anything quoted from a validator's message: quoted text may be a value sent, a key among them. */
    private static String scrub(String message) {
        return message == null ? "invalid request" : message.replaceAll("\"[^\"]*\"|'[^']*'|\\[[^\\]]*\\]", "…");
    }

    private static JsonObject contract() throws IOException {
        try (InputStream in = ApiServer.class.getResourceAsStream("/api/openapi.json")) {
            if (in == null) {
                throw new IOException("the OpenAPI document is missing from the build");
            }
            return new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** The OpenAPI document this server validates with (the metrics' route templates, tests). */
    public static JsonObject document() {
        try {
            return contract();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
