package io.flowsec.control.metrics;

import io.flowsec.control.api.ApiServer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.RoutingContext;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Times every request that reaches it, from this handler to the end of the response, as the timer
 * {@code flowsec_api_request_seconds{method, route, status}}. Mounted on the root router after authentication, so
 * requests refused for want of a token (401, 403, 429) are not timed.
 * <p>
 * The route label is a template, never the path itself: paths carry SPIs and policy names, and one series per SPI
 * would grow with every rekey. Paths of the contract are labelled with the contract's template
 * ({@code /api/v1/sas/{direction}/{spi}}), found from the OpenAPI document the server validates with (a subrouter's
 * route is not visible from the root router that times the request); other routes with their own template
 * ({@code /metrics}); anything else, 404s included, {@value #UNMATCHED}.
 */
public final class ApiLatency implements Handler<RoutingContext> {
    static final String UNMATCHED = "unmatched";
    /** Histogram buckets: a read answers in well under a millisecond, a change writes the configuration file. */
    private static final Duration[] BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(25),
            Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofSeconds(1), Duration.ofSeconds(5)};

    private static final Set<String> HTTP_METHODS =
            Set.of("get", "put", "post", "delete", "options", "head", "patch", "trace");

    /** One operation of the contract: its method, its path as a pattern, and the template that labels it. */
    private record ContractRoute(String method, Pattern path, String template, int parameters) {
    }

    private final MeterRegistry registry;
    private final List<ContractRoute> contract;

    public ApiLatency(MeterRegistry registry) {
        this(registry, ApiServer.document());
    }

    ApiLatency(MeterRegistry registry, JsonObject openApi) {
        this.registry = registry;
        this.contract = contractRoutes(openApi);
    }

    @Override
    public void handle(RoutingContext context) {
        long startNs = System.nanoTime();
        context.addEndHandler(ended -> Timer.builder("flowsec.api.request")
                .description("Control API requests, from authentication to the end of the response")
                .tags("method", method(context), "route", route(context),
                        "status", Integer.toString(context.response().getStatusCode()))
                .serviceLevelObjectives(BUCKETS)
                .register(registry)
                .record(System.nanoTime() - startNs, TimeUnit.NANOSECONDS));
        context.next();
    }

    /** The standard methods by name; any other a client makes up, {@code OTHER}, so that it cannot add series. */
    private static String method(RoutingContext context) {
        String method = context.request().method().name();
        return HTTP_METHODS.contains(method.toLowerCase(Locale.ROOT)) ? method : "OTHER";
    }

    /** The request's route template (see the class comment); called when the response has ended. */
    private String route(RoutingContext context) {
        String method = context.request().method().name();
        String path = context.normalizedPath();
        for (ContractRoute route : contract) {
            if (route.method().equals(method) && route.path().matcher(path).matches()) {
                return route.template();
            }
        }
        Route current = context.currentRoute();
        if (current == null || current.getPath() == null || current.isRegexPath()) {
            return UNMATCHED;
        }
        return current.isExactPath() ? current.getPath() : current.getPath() + "*";
    }

    /** Most literal segments first, so {@code /sas/inbound/{spi}/lane} wins over a template with more parameters. */
    private static List<ContractRoute> contractRoutes(JsonObject openApi) {
        List<ContractRoute> routes = new ArrayList<>();
        for (Map.Entry<String, Object> path : openApi.getJsonObject("paths")) {
            String template = ApiServer.BASE + path.getKey();
            StringBuilder regex = new StringBuilder();
            int parameters = 0;
            for (String part : template.split("(?=\\{)|(?<=\\})")) {
                if (part.startsWith("{") && part.endsWith("}")) {
                    regex.append("[^/]+");
                    parameters++;
                } else {
                    regex.append(Pattern.quote(part));
                }
            }
            Pattern pattern = Pattern.compile(regex.toString());
            for (String method : ((JsonObject) path.getValue()).fieldNames()) {
                if (!HTTP_METHODS.contains(method)) {
                    continue;   // a path item also holds its summary and shared parameters
                }
                routes.add(new ContractRoute(method.toUpperCase(Locale.ROOT), pattern, template, parameters));
            }
        }
        routes.sort(Comparator.comparingInt(ContractRoute::parameters));
        return List.copyOf(routes);
    }
}
