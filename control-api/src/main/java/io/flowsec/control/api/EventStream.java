package io.flowsec.control.api;

import io.flowsec.control.config.ConfigurationChange;
import io.flowsec.control.security.LoginThrottle;
import io.flowsec.dataplane.esp.IoCounter;
import io.flowsec.dataplane.runtime.DataplaneControl;
import io.flowsec.dataplane.runtime.DataplaneEvent;
import io.flowsec.dataplane.runtime.DataplaneListener;
import io.flowsec.dataplane.runtime.DataplaneSnapshot;
import io.flowsec.dataplane.sa.SecurityAssociation;
import io.flowsec.dataplane.sa.SecurityAssociation.Direction;
import io.netty.channel.Channel;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The live stream at {@value #PATH}: a WebSocket carrying JSON text messages, each lane's load and counters at the rate
 * the client asks for ({@code ?rate=}, samples per second) and the appliance's events as they happen. The flow:
 * <ol>
 *   <li>upgrade: the root router has authenticated the request (a read-only token will do; a browser offers it as the
 *       subprotocol {@code bearer.TOKEN} beside {@value #SUBPROTOCOL}, and only the latter is echoed); the rate is
 *       checked (else 400) and a client slot taken (else 503), both before the upgrade;</li>
 *   <li>tick: one timer for the whole stream, every {@value #TICK_MS} ms (the fastest rate), running only while a
 *       client is connected; when any client is due it takes one snapshot and encodes one message, written to every
 *       client due, so the cost of a tick does not grow with the clients but with the lanes;</li>
 *   <li>events: the data plane's (soft and hard lifetimes, lane faults, the end of a rekey's grace), every change the
 *       API made ({@link ApiServer.Extension#onChange}) and a growing count of failed logins (checked each tick) become
 *       event messages, written to every client at once;</li>
 *   <li>slow clients: each second every client is pinged; one that leaves pings unanswered for
 *       {@link Settings#maxLag} (it is not reading), or whose write queue is full when a message is due, is closed
 *       with 1008 "too slow", forgotten, and its connection cut if the close cannot get through. What the appliance
 *       holds for a client is thus bounded by its write queue ({@value #WRITE_QUEUE_BYTES} bytes beyond the socket's
 *       buffer) and by {@code maxLag} seconds of messages, whatever the client does.</li>
 * </ol>
 * Everything that touches the clients runs on the stream's one context, so the stream needs no locks. No message
 * carries key material: an SA appears by name, SPI and direction. Mount it as an extension of the {@link ApiServer};
 * close it after the server.
 */
public final class EventStream implements ApiServer.Extension, AutoCloseable {
    public static final String PATH = ApiServer.BASE + "/events";
    /** The subprotocol the server echoes (a browser fails a handshake whose offered subprotocols get no answer). */
    public static final String SUBPROTOCOL = "flowsec.events.v1";
    public static final double MIN_RATE = 0.1;
    public static final double MAX_RATE = 10;
    public static final double DEFAULT_RATE = 1;
    /** The timer's period: that of the fastest rate. */
    static final long TICK_MS = 100;
    private static final long TICK_NS = TimeUnit.MILLISECONDS.toNanos(TICK_MS);
    private static final int TICKS_PER_PING = 10;
    private static final long PING_INTERVAL_MS = TICK_MS * TICKS_PER_PING;
    /** Vert.x's write queue per client, beyond the socket's buffer: some tens of load messages. */
    static final int WRITE_QUEUE_BYTES = 64 * 1024;
    /** How long a dropped client's close frame may take to get through before its connection is cut. */
    private static final long CUT_AFTER_MS = 2_000;
    private static final short CLOSE_POLICY = 1008;
    private static final short CLOSE_GOING_AWAY = 1001;

    /**
     * @param maxClients at most this many clients at once; the next one is refused with 503
     * @param maxLag     a client that leaves a ping unanswered this long is too slow (whole seconds, at least 1)
     */
    public record Settings(int maxClients, Duration maxLag) {
        public static final Settings DEFAULTS = new Settings(64, Duration.ofSeconds(10));

        public Settings {
            if (maxClients < 1) {
                throw new IllegalArgumentException("maxClients must be at least 1, got " + maxClients);
            }
            if (maxLag.toSeconds() < 1) {
                throw new IllegalArgumentException("maxLag must be at least a second, got " + maxLag);
            }
        }
    }

    /** One connected client; its fields are the stream context's, but for the two its socket's context writes. */
    private static final class Client {
        final ServerWebSocket socket;
        /** The connection under the socket, to cut it; null where Vert.x does not show it. */
        final Channel channel;
        final long periodNs;
        long nextDueNs;
        long pingsSent;
        /** The highest ping number the client echoed: it has read everything sent before that ping. */
        volatile long pingsAnswered;
        volatile boolean closed;
        boolean forgotten;

        Client(ServerWebSocket socket, Channel channel, long periodNs, long nowNs) {
            this.socket = socket;
            this.channel = channel;
            this.periodNs = periodNs;
            this.nextDueNs = nowNs;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final DataplaneControl dataplane;
    private final LoginThrottle logins;
    private final Settings settings;
    private final Consumer<String> log;
    private final LaneLoad laneLoad;
    private final DataplaneListener dataplaneEvents = this::onDataplaneEvent;
    private final long pingsUnansweredAllowed;
    /** Clients connected or upgrading: taken before the upgrade, so the limit holds while handshakes are in flight. */
    private final AtomicInteger slots = new AtomicInteger();
    private final AtomicInteger connectionsOpen = new AtomicInteger();
    private final AtomicInteger slowClientsDropped = new AtomicInteger();
    private final List<Client> clients = new ArrayList<>();
    private long timer = -1;
    private long ticks;
    private long failedLoginsSeen;
    private volatile boolean closing;

    public EventStream(Vertx vertx, DataplaneControl dataplane, LoginThrottle logins, Settings settings,
                       Consumer<String> log) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.dataplane = dataplane;
        this.logins = logins;
        this.settings = settings;
        this.log = log;
        this.laneLoad = new LaneLoad(dataplane);
        this.pingsUnansweredAllowed = Math.max(1, settings.maxLag().toMillis() / PING_INTERVAL_MS);
    }

    @Override
    public void mount(Router root) {
        root.get(PATH).handler(this::upgrade);
    }

    /** Clients connected or upgrading now. */
    public int clients() {
        return slots.get();
    }

    /** Connections not yet closed, dropped clients among them until their connection is gone. */
    public int connectionsOpen() {
        return connectionsOpen.get();
    }

    /** Clients closed as too slow since the stream started. */
    public int slowClientsDropped() {
        return slowClientsDropped.get();
    }

    /** Closes every client (1001) and stops the timer; returns at once, the stream's context does the rest. */
    @Override
    public void close() {
        closing = true;
        context.runOnContext(v -> {
            for (int i = clients.size() - 1; i >= 0; i--) {
                Client client = clients.get(i);
                forget(client);
                client.socket.close(CLOSE_GOING_AWAY, "the appliance is stopping");
            }
        });
    }

    // ---- 1. upgrade -----------------------------------------------------------------------------------------------

    private void upgrade(RoutingContext routing) {
        HttpServerRequest request = routing.request();
        if (!"websocket".equalsIgnoreCase(request.getHeader(HttpHeaders.UPGRADE))) {
            routing.response().putHeader(HttpHeaders.UPGRADE, "websocket");
            routing.fail(new Problem(426, "Upgrade required", PATH + " is a WebSocket: connect with Upgrade: websocket", null));
            return;
        }
        double rate;
        try {
            rate = rate(routing.queryParam("rate"));
        } catch (Problem problem) {
            routing.fail(problem);
            return;
        }
        String offered = request.getHeader(ApiServer.SEC_WEBSOCKET_PROTOCOL);
        boolean offersOurs = offers(offered, SUBPROTOCOL);
        if (!offersOurs && offered != null && offered.contains(ApiServer.BEARER_SUBPROTOCOL)) {
            routing.fail(Problem.badRequest("offer the subprotocol " + SUBPROTOCOL + " beside " + ApiServer.BEARER_SUBPROTOCOL
                    + "TOKEN: the server answers with it, never with the token", "Sec-WebSocket-Protocol"));
            return;
        }
        if (closing) {
            routing.fail(new Problem(503, "Service unavailable", "the event stream is stopping", null));
            return;
        }
        if (slots.incrementAndGet() > settings.maxClients()) {
            slots.decrementAndGet();
            routing.fail(new Problem(503, "Service unavailable", "the event stream serves at most " + settings.maxClients()
                    + " clients at once; retry later", null));
            return;
        }
        if (offersOurs) {
            routing.response().putHeader(ApiServer.SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL);   // sent with the 101
        }
        long periodNs = (long) (TimeUnit.SECONDS.toNanos(1) / rate);
        Channel channel = request.connection() instanceof ConnectionBase connection ? connection.channel() : null;
        request.toWebSocket().onSuccess(socket -> {
            Client client = accepted(socket, channel, periodNs);
            context.runOnContext(v -> register(client));
        }).onFailure(failure -> {
            slots.decrementAndGet();
            log.accept("events: an upgrade failed: " + failure.getMessage());
        });
    }

    /** On the socket's context, before it can close unheard: its handlers. */
    private Client accepted(ServerWebSocket socket, Channel channel, long periodNs) {
        Client client = new Client(socket, channel, periodNs, System.nanoTime());
        connectionsOpen.incrementAndGet();
        socket.closeHandler(v -> {
            client.closed = true;
            connectionsOpen.decrementAndGet();
            context.runOnContext(x -> forget(client));
        });
        socket.exceptionHandler(e -> { });   // a reset connection ends in the close handler
        socket.handler(ignored -> { });      // clients have nothing to say; what they send is read and dropped
        socket.pongHandler(echo -> {
            if (echo.length() == Long.BYTES) {
                client.pingsAnswered = Math.max(client.pingsAnswered, echo.getLong(0));
            }
        });
        socket.setWriteQueueMaxSize(WRITE_QUEUE_BYTES);
        return client;
    }

    /** The samples per second asked for; {@value #DEFAULT_RATE} when not given. */
    private static double rate(List<String> values) {
        if (values.isEmpty()) {
            return DEFAULT_RATE;
        }
        double rate;
        try {
            rate = Double.parseDouble(values.getFirst());
        } catch (NumberFormatException e) {
            rate = Double.NaN;
        }
        if (!(rate >= MIN_RATE && rate <= MAX_RATE)) {   // NaN too
            throw Problem.badRequest("rate is samples per second, from " + MIN_RATE + " to " + MAX_RATE, "rate");
        }
        return rate;
    }

    private static boolean offers(String offered, String subprotocol) {
        if (offered != null) {
            for (String candidate : offered.split(",")) {
                if (candidate.strip().equals(subprotocol)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** On the stream's context: the client joins; the first one starts the timer and the data plane's events. */
    private void register(Client client) {
        if (client.forgotten) {
            return;   // closed before it got here
        }
        if (closing) {
            forget(client);
            client.socket.close(CLOSE_GOING_AWAY, "the appliance is stopping");
            return;
        }
        if (clients.isEmpty()) {
            start();
        }
        clients.add(client);
    }

    private void start() {
        laneLoad.sample(dataplane.snapshot());   // the baseline: the first message has rates already
        failedLoginsSeen = logins.failuresTotal();
        dataplane.addListener(dataplaneEvents);
        timer = vertx.setPeriodic(TICK_MS, id -> tick());
    }

    private void stop() {
        vertx.cancelTimer(timer);
        timer = -1;
        dataplane.removeListener(dataplaneEvents);
    }

    /** Once per client, whichever comes first: its close, its drop, the stream's close. The last one stops the stream. */
    private void forget(Client client) {
        if (client.forgotten) {
            return;
        }
        client.forgotten = true;
        slots.decrementAndGet();
        if (clients.remove(client) && clients.isEmpty()) {
            stop();
        }
    }

    // ---- 2. tick --------------------------------------------------------------------------------------------------

    private void tick() {
        long nowNs = System.nanoTime();
        announceFailedLogins();
        boolean pingRound = ++ticks % TICKS_PER_PING == 0;
        String load = null;
        for (int i = clients.size() - 1; i >= 0; i--) {   // backwards: a drop removes the client at i
            Client client = clients.get(i);
            if (pingRound && !ping(client)) {
                continue;
            }
            if (client.nextDueNs - nowNs > TICK_NS / 2) {
                continue;
            }
            // the next sample one period on, unless the timer fell a whole period behind: then no burst to catch up
            client.nextDueNs = Math.max(client.nextDueNs + client.periodNs, nowNs + client.periodNs - TICK_NS / 2);
            if (load == null) {
                load = loadMessage().encode();
            }
            write(client, load);
        }
    }

    /** The per-lane load and counters, one snapshot's worth; busy fraction and rates since the previous sample. */
    private JsonObject loadMessage() {
        DataplaneSnapshot snapshot = dataplane.snapshot();
        laneLoad.sample(snapshot);
        JsonArray lanes = new JsonArray();
        long packetsPerSecond = 0;
        long faults = 0;
        for (DataplaneSnapshot.LaneSnapshot lane : snapshot.lanes()) {
            JsonObject io = new JsonObject();
            for (IoCounter counter : IoCounter.values()) {
                io.put(counter.label(), lane.io(counter));
            }
            long lanePackets = laneLoad.packetsPerSecond(lane.lane());
            packetsPerSecond += lanePackets;
            faults += lane.io(IoCounter.LANE_FAULTS);
            lanes.add(new JsonObject()
                    .put("lane", lane.lane())
                    .put("busyFraction", laneLoad.busyFraction(lane.lane()))
                    .put("packetsPerSecond", lanePackets)
                    .put("queueDelayMs", lane.queueDelayNanos() / 1e6)
                    .put("socketDrops", lane.socketDrops())
                    .put("io", io)
                    .put("outcomes", ApiResources.outcomes(lane.outcomes(), true)));
        }
        return message("load")
                .put("mode", snapshot.mode().configName())
                .put("steering", snapshot.steeringInEffect().configName())
                .put("lanes", lanes)
                .put("totals", new JsonObject().put("packetsPerSecond", packetsPerSecond).put("faults", faults)
                        .put("outcomes", ApiResources.outcomes(snapshot.totals(), true)));
    }

    // ---- 3. events ------------------------------------------------------------------------------------------------

    private void onDataplaneEvent(DataplaneEvent event) {
        publish(switch (event) {
            case DataplaneEvent.SoftLifetime soft -> sa("sa-expiring", soft.sa(), soft.spi(), soft.direction())
                    .put("limit", soft.limit());
            case DataplaneEvent.HardLifetime hard -> sa("sa-expired", hard.sa(), hard.spi(), hard.direction())
                    .put("limit", hard.limit());
            case DataplaneEvent.LaneFault fault -> event("lane-fault").put("lane", fault.lane())
                    .put("fault", fault.fault()).put("faults", fault.faults());
            case DataplaneEvent.SaRemoved removed -> sa("sa-removed", removed.sa(), removed.spi(), removed.direction())
                    .put("reason", "rekey-grace-ended");
        });
    }

    /** What a change did, from its own fields: a rekey's keys stay behind. */
    @Override
    public void onChange(ConfigurationChange change) {
        if (slots.get() == 0) {
            return;   // nobody listens
        }
        switch (change) {
            case ConfigurationChange.ModeSet set -> publish(event("mode-changed").put("mode", set.mode().configName()));
            case ConfigurationChange.SteeringSet set -> publish(event("steering-changed")
                    .put("steering", set.steering().configName()));
            case ConfigurationChange.WeightsSet set -> {
                JsonArray weights = new JsonArray();
                for (int weight : set.weights()) {
                    weights.add(weight);
                }
                publish(event("weights-changed").put("policy", set.policy()).put("weights", weights));
            }
            case ConfigurationChange.InboundLaneSet set -> publish(sa("sa-moved", null, set.spi(), Direction.INBOUND)
                    .put("lane", set.lane()));
            case ConfigurationChange.SaRekeyed rekeyed -> {
                publish(sa("sa-installed", saName(rekeyed.newSpi(), rekeyed.direction()), rekeyed.newSpi(),
                        rekeyed.direction()).put("replaces", ApiResources.hex(rekeyed.oldSpi())));
                publish(sa("sa-rekeyed", null, rekeyed.oldSpi(), rekeyed.direction())
                        .put("newSpi", ApiResources.hex(rekeyed.newSpi())));
            }
            case ConfigurationChange.SaAdded added -> publish(sa("sa-installed", null, added.spi(), Direction.INBOUND)
                    .put("policy", added.policy()));
            case ConfigurationChange.SaRemoved removed -> publish(sa("sa-removed", null, removed.spi(), removed.direction())
                    .put("reason", "api"));
            case ConfigurationChange.PolicySet set -> publish(event(set.replacing() ? "policy-replaced" : "policy-added")
                    .put("policy", set.name()));
            case ConfigurationChange.PolicyRemoved removed -> publish(event("policy-removed").put("policy", removed.name()));
            case ConfigurationChange.BalancingSet set -> publish(event("balancing-changed").put("tunnel", set.tunnel())
                    .put("policy", set.policy()));
        }
    }

    /** Checked each tick: one event however many failed since the last. */
    private void announceFailedLogins() {
        long failures = logins.failuresTotal();
        if (failures > failedLoginsSeen) {
            broadcast(event("authentication-failures").put("failures", failures - failedLoginsSeen)
                    .put("failuresTotal", failures).encode());
        }
        failedLoginsSeen = failures;
    }

    private String saName(int spi, Direction direction) {
        for (SecurityAssociation sa : dataplane.sas()) {
            if (sa.spi() == spi && sa.direction() == direction) {
                return sa.name();
            }
        }
        return null;
    }

    private static JsonObject message(String type) {
        return new JsonObject().put("type", type).put("time", Instant.now().toString());
    }

    private static JsonObject event(String name) {
        return message("event").put("event", name);
    }

    private static JsonObject sa(String name, String sa, int spi, Direction direction) {
        JsonObject event = event(name);
        if (sa != null) {
            event.put("sa", sa);
        }
        return event.put("spi", ApiResources.hex(spi)).put("direction", ApiResources.label(direction));
    }

    /**
     * A cluster tunnel's event ({@code fields} hold {@code event} and {@code tunnel}), sent as the stream's other
     * events are; from any thread.
     */
    public void tunnelEvent(JsonObject fields) {
        if (slots.get() != 0) {
            publish(message("event").mergeIn(fields));
        }
    }

    /** From any thread: encoded here, written on the stream's context. */
    private void publish(JsonObject event) {
        if (slots.get() == 0) {
            return;
        }
        String text = event.encode();
        context.runOnContext(v -> broadcast(text));
    }

    private void broadcast(String text) {
        for (int i = clients.size() - 1; i >= 0; i--) {
            write(clients.get(i), text);
        }
    }

    // ---- 4. slow clients ------------------------------------------------------------------------------------------

    private void write(Client client, String text) {
        if (isWritable(client)) {
            client.socket.writeTextMessage(text);
        }
    }

    /** A ping carrying its number, which the client echoes once it has read what came before; false if dropped. */
    private boolean ping(Client client) {
        if (!isWritable(client)) {
            return false;
        }
        long unanswered = client.pingsSent - Math.min(client.pingsAnswered, client.pingsSent);
        if (unanswered >= pingsUnansweredAllowed) {
            drop(client, "it left " + unanswered + " pings unanswered");
            return false;
        }
        client.socket.writePing(Buffer.buffer(Long.BYTES).appendLong(++client.pingsSent));
        return true;
    }

    /** False when the client is gone, or was dropped now because its write queue is full. */
    private boolean isWritable(Client client) {
        try {
            if (isGone(client)) {
                return false;
            }
            if (client.socket.writeQueueFull()) {
                drop(client, "its write queue is full");
                return false;
            }
            return true;
        } catch (IllegalStateException closedMeanwhile) {
            forget(client);
            return false;
        }
    }

    /** A socket that closed before its close handler ran here is forgotten now. */
    private boolean isGone(Client client) {
        if (client.closed || client.socket.isClosed()) {
            forget(client);
            return true;
        }
        return false;
    }

    /**
     * Closes a slow client with 1008 and forgets it at once. The close frame queues behind what the client did not
     * read, and Vert.x times the close out only once that frame is written: a client that never reads would keep its
     * connection, and its queue, for ever. So the connection is cut if it is still open {@value #CUT_AFTER_MS} ms on,
     * from the pipeline's first handler: Vert.x's own handler would wait for the close frame again. (The channel comes
     * from Vert.x's {@code impl} package, the only way to it through vertx-web's wrappers; without it Vert.x's closing
     * timeout still ends a client that reads its close frame.)
     */
    private void drop(Client client, String why) {
        slowClientsDropped.incrementAndGet();
        log.accept("events: dropped a slow client (" + client.socket.remoteAddress() + "): " + why);
        forget(client);
        client.socket.close(CLOSE_POLICY, "too slow");
        vertx.setTimer(CUT_AFTER_MS, id -> {
            if (!client.closed && client.channel != null && client.channel.pipeline().firstContext() != null) {
                client.channel.pipeline().firstContext().close();
            }
        });
    }
}
