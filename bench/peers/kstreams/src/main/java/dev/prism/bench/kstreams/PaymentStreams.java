package dev.prism.bench.kstreams;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.util.Utf8;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer of Prism's payment processor (bench/report): reads
 * the Avro commands Prism reads (single-object encoding, the schemas of
 * payment/schemas/avro), keeps each payment in a persistent (RocksDB)
 * key-value store, applies the rules of payment/decide.go,
 * payment/validate.go and payment/transitions.go, and writes Avro events
 * (EventEnvelope, with the state after the event) and results
 * (CommandResult, keyed by command id) to topics of its own, with
 * processing.guarantee=exactly_once_v2.
 *
 * <pre>
 * java -cp target/prism-bench-kstreams-1.jar:target/lib/* dev.prism.bench.kstreams.PaymentStreams \
 *   --brokers 127.0.0.1:9092 --application-id ID --commands T --events T --results T \
 *   --schemas payment/schemas/avro --state-dir DIR [--threads N]
 * </pre>
 */
public final class PaymentStreams {
    static final String NAMESPACE = "dev.prism.payments";
    static final String STORE = "payments";
    static final long MAX_AMOUNT_MINOR = 1_000_000_000_000L; // records/limits DefaultMaxAmountMinor
    static final int DEDUP_WINDOW = 16; // records/dedup DefaultWindow
    static final int MAX_ID_BYTES = 128; // records.MaxIDBytes
    static final int MAX_TEXT_RUNES = 1000; // payment.MaxTextRunes
    static final Set<String> CURRENCIES = Set.of(("AED ARS AUD BGN BHD BRL CAD CHF CLP CNY COP CZK DKK EGP EUR GBP "
            + "HKD HUF IDR ILS INR ISK JOD JPY KRW KWD MXN MYR NOK NZD OMR PHP PLN QAR RON SAR SEK SGD THB TND "
            + "TRY TWD UAH USD VND ZAR").split(" "));

    private PaymentStreams() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> f = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            f.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        Schemas schemas = Schemas.load(Path.of(need(f, "schemas")));
        String commands = need(f, "commands"), events = need(f, "events"), results = need(f, "results");

        Topology topo = new Topology();
        topo.addSource("commands", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), commands);
        topo.addProcessor("decide", () -> new Decider(schemas), "commands");
        topo.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE),
                Serdes.String(), Serdes.ByteArray()), "decide");
        topo.addSink("events", events, Serdes.String().serializer(), Serdes.ByteArray().serializer(), "decide");
        topo.addSink("results", results, Serdes.String().serializer(), Serdes.ByteArray().serializer(), "decide");

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(f, "application-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(f, "brokers"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, need(f, "state-dir"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG,
                f.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        KafkaStreams streams = new KafkaStreams(topo, p);
        CountDownLatch done = new CountDownLatch(1);
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("kstreams peer: " + e);
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            System.err.println("kstreams peer: state " + before + " -> " + now);
            if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) {
                done.countDown();
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            done.countDown();
        }));
        streams.start();
        done.await();
    }

    static String need(Map<String, String> f, String name) {
        String v = f.get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }

    /** The Avro schemas of payment/schemas/avro and their coders. */
    static final class Schemas {
        Schema command, event, result, payment;
        BinaryMessageDecoder<GenericRecord> commands;
        BinaryMessageEncoder<GenericRecord> events, results;
        String eventFingerprint, resultFingerprint;

        static Schemas load(Path dir) throws IOException {
            Schemas s = new Schemas();
            List<Schema> olderCommands = new ArrayList<>();
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path file : (Iterable<Path>) files.filter(x -> x.toString().endsWith(".avsc"))::iterator) {
                    Schema sc = new Schema.Parser().parse(file.toFile());
                    boolean older = !file.getParent().equals(dir);
                    switch (sc.getFullName()) {
                        case NAMESPACE + ".CommandEnvelope" -> {
                            if (older) {
                                olderCommands.add(sc);
                            } else {
                                s.command = sc;
                            }
                        }
                        case NAMESPACE + ".EventEnvelope" -> s.event = older ? s.event : sc;
                        case NAMESPACE + ".CommandResult" -> s.result = older ? s.result : sc;
                        default -> { }
                    }
                }
            }
            if (s.command == null || s.event == null || s.result == null) {
                throw new IllegalArgumentException("missing schemas under " + dir);
            }
            s.commands = new BinaryMessageDecoder<>(GenericData.get(), s.command);
            olderCommands.forEach(s.commands::addSchema);
            s.events = new BinaryMessageEncoder<>(GenericData.get(), s.event);
            s.results = new BinaryMessageEncoder<>(GenericData.get(), s.result);
            s.payment = s.event.getField("state").schema().getTypes().get(1);
            s.eventFingerprint = String.format("%016x", SchemaNormalization.parsingFingerprint64(s.event));
            s.resultFingerprint = String.format("%016x", SchemaNormalization.parsingFingerprint64(s.result));
            return s;
        }
    }

    /** A rejection: the reason code, the field (INVALID_FIELD) and a message. */
    record Reject(String reason, String field, String message) {}

    /** Applies the payment rules to each command, in partition order. */
    static final class Decider implements Processor<byte[], byte[], String, byte[]> {
        private final Schemas s;
        private final GenericDatumWriter<GenericRecord> stateWriter;
        private final GenericDatumReader<GenericRecord> stateReader;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream(512);
        private BinaryEncoder enc;
        private BinaryDecoder dec;
        private ProcessorContext<String, byte[]> ctx;
        private KeyValueStore<String, byte[]> store;

        Decider(Schemas s) {
            this.s = s;
            stateWriter = new GenericDatumWriter<>(s.payment);
            stateReader = new GenericDatumReader<>(s.payment);
        }

        @Override
        public void init(ProcessorContext<String, byte[]> context) {
            ctx = context;
            store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<byte[], byte[]> rec) {
            GenericRecord cmd;
            try {
                cmd = s.commands.decode(rec.value());
            } catch (IOException | RuntimeException e) {
                // Prism sends such a record to its DLQ; the benchmark's workload has none.
                System.err.println("kstreams peer: undecodable command: " + e);
                return;
            }
            String paymentId = str(cmd.get("paymentId"));
            GenericRecord state = paymentId.isEmpty() ? null : load(paymentId);
            decide(state, cmd, rec.timestamp());
        }

        private GenericRecord load(String id) {
            byte[] b = store.get(id);
            if (b == null) {
                return null;
            }
            try {
                dec = DecoderFactory.get().binaryDecoder(b, dec);
                return stateReader.read(null, dec);
            } catch (IOException e) {
                throw new IllegalStateException("state of " + id, e);
            }
        }

        private void save(String id, GenericRecord state) {
            buf.reset();
            enc = EncoderFactory.get().directBinaryEncoder(buf, enc);
            try {
                stateWriter.write(state, enc);
                enc.flush();
            } catch (IOException e) {
                throw new IllegalStateException("state of " + id, e);
            }
            store.put(id, buf.toByteArray());
        }

        /** payment/decide.go's decide, in its order of checks. */
        private void decide(GenericRecord state, GenericRecord cmd, long ts) {
            String commandId = str(cmd.get("commandId"));
            String paymentId = str(cmd.get("paymentId"));
            String org = str(cmd.get("organizationId"));
            String type = str(cmd.get("type"));
            String corr = str(cmd.get("correlationId"));
            if (corr.isEmpty()) {
                corr = commandId;
            }
            long current = state == null ? 0 : (Long) state.get("version");
            Reject r = checkEnvelope(cmd);
            if (r != null) {
                result(cmd, corr, false, r, current, false, ts);
                return;
            }
            if (state != null && org.equals(str(state.get("organizationId")))) {
                @SuppressWarnings("unchecked")
                List<GenericRecord> recent = (List<GenericRecord>) state.get("recentCommands");
                for (GenericRecord rc : recent) {
                    if (commandId.equals(str(rc.get("commandId")))) {
                        result(cmd, corr, true, null, (Long) rc.get("version"), true, ts);
                        return;
                    }
                }
            }
            GenericRecord payload = (GenericRecord) cmd.get("payload");
            r = checkPayload(payload);
            if (r != null) {
                result(cmd, corr, false, r, current, false, ts);
                return;
            }
            if (type.equals("CreatePayment") && state != null) {
                result(cmd, corr, false, new Reject("ALREADY_EXISTS", "", "payment " + paymentId + " already exists"), current, false, ts);
                return;
            }
            if (!type.equals("CreatePayment") && state == null) {
                result(cmd, corr, false, new Reject("NOT_FOUND", "", "payment " + paymentId + " does not exist"), current, false, ts);
                return;
            }
            if (state != null && !org.equals(str(state.get("organizationId")))) {
                result(cmd, corr, false, new Reject("FORBIDDEN", "",
                        "payment " + paymentId + " does not belong to organization " + org), current, false, ts);
                return;
            }
            Object ev = cmd.get("expectedVersion");
            if (ev != null && (Long) ev != current) {
                result(cmd, corr, false, new Reject("VERSION_CONFLICT", "",
                        "expected version " + ev + ", the payment is at version " + current), current, false, ts);
                return;
            }
            long now = System.currentTimeMillis();
            long version = current + 1;
            GenericRecord next;
            GenericRecord evPayload;
            String eventType;
            switch (type) {
                case "CreatePayment" -> {
                    evPayload = branch(s.event, "PaymentCreated");
                    evPayload.put("amountMinor", payload.get("amountMinor"));
                    evPayload.put("currency", str(payload.get("currency")));
                    evPayload.put("description", str(payload.get("description")));
                    evPayload.put("userId", str(cmd.get("userId")));
                    eventType = "PaymentCreated";
                    next = new GenericData.Record(s.payment);
                    next.put("id", paymentId);
                    next.put("organizationId", org);
                    next.put("userId", str(cmd.get("userId")));
                    next.put("amountMinor", payload.get("amountMinor"));
                    next.put("currency", str(payload.get("currency")));
                    next.put("description", str(payload.get("description")));
                    next.put("status", status("PENDING"));
                    next.put("createdAt", now);
                    next.put("recentCommands", new ArrayList<GenericRecord>());
                }
                case "UpdatePayment" -> {
                    String st = str(state.get("status"));
                    if (!st.equals("PENDING")) {
                        result(cmd, corr, false, new Reject("INVALID_STATE", "", "payment " + paymentId + " is " + st
                                + ", only a PENDING payment can be updated"), current, false, ts);
                        return;
                    }
                    next = new GenericData.Record((GenericData.Record) state, false);
                    if (payload.get("amountMinor") != null) {
                        next.put("amountMinor", payload.get("amountMinor"));
                        next.put("currency", str(payload.get("currency")));
                    }
                    if (payload.get("description") != null) {
                        next.put("description", str(payload.get("description")));
                    }
                    evPayload = branch(s.event, "PaymentUpdated");
                    evPayload.put("amountMinor", next.get("amountMinor"));
                    evPayload.put("currency", next.get("currency"));
                    evPayload.put("description", next.get("description"));
                    evPayload.put("previousAmountMinor", state.get("amountMinor"));
                    eventType = "PaymentUpdated";
                }
                case "ChangePaymentStatus" -> {
                    String from = str(state.get("status"));
                    String to = str(payload.get("status"));
                    if (!canTransition(from, to)) {
                        result(cmd, corr, false, new Reject("INVALID_TRANSITION", "",
                                "payment " + paymentId + " cannot change from " + from + " to " + to), current, false, ts);
                        return;
                    }
                    next = new GenericData.Record((GenericData.Record) state, false);
                    next.put("status", status(to));
                    evPayload = branch(s.event, "PaymentStatusChanged");
                    evPayload.put("from", status(from));
                    evPayload.put("to", status(to));
                    evPayload.put("reason", str(payload.get("reason")));
                    eventType = "PaymentStatusChanged";
                }
                default -> { // DeletePayment
                    next = null;
                    evPayload = branch(s.event, "PaymentDeleted");
                    evPayload.put("reason", str(payload.get("reason")));
                    eventType = "PaymentDeleted";
                }
            }
            if (next != null) {
                next.put("updatedAt", now);
                next.put("version", version);
                List<GenericRecord> recent = new ArrayList<>();
                if (!type.equals("CreatePayment")) {
                    @SuppressWarnings("unchecked")
                    List<GenericRecord> old = (List<GenericRecord>) state.get("recentCommands");
                    recent.addAll(old);
                }
                GenericRecord rc = new GenericData.Record(s.payment.getField("recentCommands").schema().getElementType());
                rc.put("commandId", commandId);
                rc.put("version", version);
                recent.add(rc);
                while (recent.size() > DEDUP_WINDOW) {
                    recent.remove(0);
                }
                next.put("recentCommands", recent);
                save(paymentId, next);
            } else {
                store.delete(paymentId);
            }
            GenericRecord event = new GenericData.Record(s.event);
            event.put("eventId", UUID.nameUUIDFromBytes((paymentId + "\u0000" + commandId + "\u0000" + version)
                    .getBytes(StandardCharsets.UTF_8)).toString());
            event.put("type", eventType);
            event.put("aggregateId", paymentId);
            event.put("version", version);
            event.put("commandId", commandId);
            event.put("correlationId", corr);
            event.put("causationId", commandId);
            event.put("occurredAt", now);
            event.put("organizationId", org);
            event.put("payload", evPayload);
            event.put("state", next);
            RecordHeaders h = new RecordHeaders();
            h.add("prism-type", eventType.getBytes(StandardCharsets.UTF_8));
            h.add("prism-command-id", commandId.getBytes(StandardCharsets.UTF_8));
            h.add("prism-schema", s.eventFingerprint.getBytes(StandardCharsets.UTF_8));
            ctx.forward(new Record<>(paymentId, encode(s.events, event), ts, h), "events");
            result(cmd, corr, true, null, version, false, ts);
        }

        private void result(GenericRecord cmd, String corr, boolean accepted, Reject r, long version, boolean dup, long ts) {
            String commandId = str(cmd.get("commandId"));
            GenericRecord res = new GenericData.Record(s.result);
            res.put("commandId", commandId);
            res.put("paymentId", str(cmd.get("paymentId")));
            res.put("accepted", accepted);
            res.put("reason", r == null ? "" : r.reason());
            res.put("message", r == null ? "" : r.message());
            res.put("field", r == null ? "" : r.field());
            res.put("eventVersion", version);
            res.put("duplicate", dup);
            res.put("correlationId", corr);
            RecordHeaders h = new RecordHeaders();
            h.add("prism-command-id", commandId.getBytes(StandardCharsets.UTF_8));
            h.add("prism-schema", s.resultFingerprint.getBytes(StandardCharsets.UTF_8));
            ctx.forward(new Record<>(commandId, encode(s.results, res), ts, h), "results");
        }

        private GenericData.EnumSymbol status(String v) {
            return new GenericData.EnumSymbol(s.payment.getField("status").schema(), v);
        }
    }

    static byte[] encode(BinaryMessageEncoder<GenericRecord> e, GenericRecord r) {
        try {
            ByteBuffer b = e.encode(r);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
    }

    static GenericRecord branch(Schema envelope, String name) {
        for (Schema t : envelope.getField("payload").schema().getTypes()) {
            if (t.getName().equals(name)) {
                return new GenericData.Record(t);
            }
        }
        throw new IllegalArgumentException(name);
    }

    static String str(Object o) {
        return o == null ? "" : o.toString();
    }

    /** payment/transitions.go's CanTransition. */
    static boolean canTransition(String from, String to) {
        return switch (from) {
            case "PENDING" -> to.equals("AUTHORIZED") || to.equals("FAILED") || to.equals("CANCELLED");
            case "AUTHORIZED" -> to.equals("CAPTURED") || to.equals("FAILED") || to.equals("CANCELLED");
            case "CAPTURED" -> to.equals("REFUNDED");
            default -> false;
        };
    }

    /** payment/validate.go's checkEnvelope. */
    static Reject checkEnvelope(GenericRecord cmd) {
        for (String[] id : new String[][] {{"commandId", "1"}, {"paymentId", "1"}, {"organizationId", "1"},
                {"userId", "1"}, {"correlationId", "0"}, {"causationId", "0"}}) {
            Reject r = checkID(id[0], cmd.get(id[0]), id[1].equals("1"));
            if (r != null) {
                return r;
            }
        }
        Object ev = cmd.get("expectedVersion");
        if (ev != null && (Long) ev < 0) {
            return new Reject("INVALID_FIELD", "expectedVersion", "expectedVersion " + ev + " is negative");
        }
        String type = str(cmd.get("type"));
        String branch = ((GenericRecord) cmd.get("payload")).getSchema().getName();
        if (!Set.of("CreatePayment", "UpdatePayment", "ChangePaymentStatus", "DeletePayment").contains(type)) {
            return new Reject("INVALID_FIELD", "type", "unknown command type \"" + type + "\"");
        }
        if (!branch.equals(type)) {
            return new Reject("INVALID_FIELD", "payload", "a " + type + " command needs exactly its own payload");
        }
        return null;
    }

    /** payment/validate.go's checkPayload. */
    static Reject checkPayload(GenericRecord p) {
        switch (p.getSchema().getName()) {
            case "CreatePayment" -> {
                Reject r = checkAmount((Long) p.get("amountMinor"));
                if (r == null) {
                    r = checkCurrency(str(p.get("currency")));
                }
                return r != null ? r : checkText("description", p.get("description"));
            }
            case "UpdatePayment" -> {
                Object amount = p.get("amountMinor"), currency = p.get("currency"), desc = p.get("description");
                if (amount == null && currency == null && desc == null) {
                    return new Reject("INVALID_FIELD", "payload", "an UpdatePayment command must change amountMinor or description");
                }
                if (currency != null && amount == null) {
                    return new Reject("INVALID_FIELD", "currency", "currency may change only together with amountMinor");
                }
                if (amount != null) {
                    Reject r = checkAmount((Long) amount);
                    if (r != null) {
                        return r;
                    }
                    if (currency == null) {
                        return new Reject("INVALID_FIELD", "currency", "currency is required with amountMinor");
                    }
                    r = checkCurrency(str(currency));
                    if (r != null) {
                        return r;
                    }
                }
                return desc == null ? null : checkText("description", desc);
            }
            case "ChangePaymentStatus" -> {
                // The Avro enum admits only the six statuses.
                return checkText("reason", p.get("reason"));
            }
            default -> {
                return checkText("reason", p.get("reason"));
            }
        }
    }

    static Reject checkAmount(long v) {
        if (v <= 0) {
            return new Reject("INVALID_FIELD", "amountMinor", "amountMinor " + v + " must be greater than 0");
        }
        if (v > MAX_AMOUNT_MINOR) {
            return new Reject("INVALID_FIELD", "amountMinor", "amountMinor " + v + " is above the maximum " + MAX_AMOUNT_MINOR + " minor units");
        }
        return null;
    }

    static Reject checkCurrency(String c) {
        return CURRENCIES.contains(c) ? null
                : new Reject("INVALID_FIELD", "currency", "currency \"" + c + "\" is not a supported ISO 4217 code");
    }

    /** records.CheckID. */
    static Reject checkID(String field, Object v, boolean required) {
        byte[] b = bytes(v);
        if (required && b.length == 0) {
            return new Reject("INVALID_FIELD", field, field + " is empty");
        }
        if (b.length > MAX_ID_BYTES) {
            return new Reject("INVALID_FIELD", field, field + " is " + b.length + " bytes long, at most " + MAX_ID_BYTES + " allowed");
        }
        return checkChars(field, b, Integer.MAX_VALUE);
    }

    /** records.CheckText with payment.MaxTextRunes. */
    static Reject checkText(String field, Object v) {
        return checkChars(field, bytes(v), MAX_TEXT_RUNES);
    }

    static byte[] bytes(Object v) {
        if (v == null) {
            return new byte[0];
        }
        if (v instanceof Utf8 u) {
            return u.getBytes().length == u.getByteLength() ? u.getBytes() : java.util.Arrays.copyOf(u.getBytes(), u.getByteLength());
        }
        return v.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** records' checkChars: valid UTF-8, no control character, at most maxRunes characters. */
    static Reject checkChars(String field, byte[] b, int maxRunes) {
        CharBuffer cs;
        try {
            cs = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
        } catch (CharacterCodingException e) {
            return new Reject("INVALID_FIELD", field, field + " is not valid UTF-8");
        }
        String str = cs.toString();
        int[] cps = str.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            if (Character.isISOControl(cps[i])) {
                return new Reject("INVALID_FIELD", field, String.format("%s contains the control character U+%04X at character %d", field, cps[i], i + 1));
            }
        }
        if (cps.length > maxRunes) {
            return new Reject("INVALID_FIELD", field, field + " is " + cps.length + " characters long, at most " + maxRunes + " allowed");
        }
        return null;
    }
}
