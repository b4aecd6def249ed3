package dev.prism.interop;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

/**
 * A client of Prism's Kafka records written only against the Apache Avro
 * specification and the Java reference libraries, sharing no code with
 * Prism. Every output is one JSON object per line on stdout; errors go to
 * stderr and make the exit status non-zero.
 *
 * <pre>
 * fingerprints DIR
 *     every .avsc file under DIR: its path relative to DIR, its Parsing
 *     Canonical Form and SchemaNormalization.parsingFingerprint64 (16 hex
 *     digits, most significant first)
 * consume --brokers B --topic T --schemas DIR --record NAME [--min N] [--timeout-ms MS]
 *     reads T from the start with isolation.level=read_committed up to the
 *     last stable offset of every partition (and at least N records), decoding
 *     each value with Avro's single-object decoder (BinaryMessageDecoder) whose
 *     reader schema is DIR's record NAME and which knows every .avsc version of
 *     NAME under DIR; exits 1 when any value does not decode. Each record's
 *     line also gives the partition the Java default partitioner picks for
 *     its key (murmur2)
 * produce --brokers B --topic T --schemas DIR --payments N --prefix P
 *     for each of N payments sends a CreatePayment then a ChangePaymentStatus
 *     (AUTHORIZED) command, encoded with Avro's single-object encoder
 *     (BinaryMessageEncoder) and keyed by payment id, with the Java client's
 *     default partitioner
 * </pre>
 */
public final class Interop {
    private static final String NAMESPACE = "dev.prism.payments";

    private Interop() {}

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: Interop fingerprints DIR | consume ... | produce ...");
            System.exit(2);
        }
        try {
            Map<String, String> flags = flags(args);
            int status;
            switch (args[0]) {
                case "fingerprints":
                    status = fingerprints(Path.of(args[1]));
                    break;
                case "consume":
                    status = consume(flags);
                    break;
                case "produce":
                    status = produce(flags);
                    break;
                default:
                    System.err.println("unknown command " + args[0]);
                    status = 2;
            }
            System.out.flush();
            System.exit(status);
        } catch (Exception e) {
            System.err.println("interop: " + e);
            System.exit(1);
        }
    }

    private static Map<String, String> flags(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 1; i + 1 < args.length; i++) {
            if (args[i].startsWith("--")) {
                m.put(args[i].substring(2), args[i + 1]);
                i++;
            }
        }
        return m;
    }

    private static String need(Map<String, String> flags, String name) {
        String v = flags.get(name);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("missing --" + name);
        }
        return v;
    }

    /** Every .avsc file under dir, sorted by relative path, each parsed on its own. */
    private static Map<String, Schema> schemaFiles(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> p.toString().endsWith(".avsc")).sorted().collect(Collectors.toList());
        }
        Map<String, Schema> out = new java.util.LinkedHashMap<>();
        for (Path p : files) {
            Schema schema = new Schema.Parser().parse(p.toFile());
            out.put(dir.relativize(p).toString().replace(File.separatorChar, '/'), schema);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no .avsc file under " + dir);
        }
        return out;
    }

    private static String hex(long fp) {
        return String.format("%016x", fp);
    }

    private static int fingerprints(Path dir) throws IOException {
        for (Map.Entry<String, Schema> e : schemaFiles(dir).entrySet()) {
            Schema s = e.getValue();
            System.out.println("{\"file\":" + quote(e.getKey())
                    + ",\"record\":" + quote(s.getFullName())
                    + ",\"fingerprint\":" + quote(hex(SchemaNormalization.parsingFingerprint64(s)))
                    + ",\"canonical\":" + quote(SchemaNormalization.toParsingForm(s)) + "}");
        }
        return 0;
    }

    /**
     * The schema versions of one record: the current one (directly under dir)
     * first, then the older ones (dir/v*).
     */
    private static List<Schema> versions(Path dir, String record) throws IOException {
        List<Schema> current = new ArrayList<>();
        List<Schema> older = new ArrayList<>();
        for (Map.Entry<String, Schema> e : schemaFiles(dir).entrySet()) {
            if (!e.getValue().getFullName().equals(NAMESPACE + "." + record)) {
                continue;
            }
            (e.getKey().contains("/") ? older : current).add(e.getValue());
        }
        if (current.size() != 1) {
            throw new IllegalArgumentException(current.size() + " current schemas of " + record + " under " + dir);
        }
        current.addAll(older);
        return current;
    }

    private static int consume(Map<String, String> flags) throws IOException {
        String topic = need(flags, "topic");
        List<Schema> schemas = versions(Path.of(need(flags, "schemas")), need(flags, "record"));
        long min = Long.parseLong(flags.getOrDefault("min", "0"));
        long deadline = System.currentTimeMillis() + Long.parseLong(flags.getOrDefault("timeout-ms", "60000"));

        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), schemas.get(0));
        for (Schema older : schemas.subList(1, schemas.size())) {
            decoder.addSchema(older);
        }

        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, need(flags, "brokers"));
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        PrintStream out = System.out;
        long records = 0, tombstones = 0, failures = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                parts.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            while (true) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    records++;
                    String head = "{\"partition\":" + r.partition() + ",\"offset\":" + r.offset()
                            + ",\"key\":" + quote(r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8))
                            + (r.key() == null ? "" : ",\"murmur2Partition\":" + Utils.toPositive(Utils.murmur2(r.key())) % parts.size());
                    if (r.value() == null) {
                        tombstones++;
                        out.println(head + ",\"value\":null}");
                        continue;
                    }
                    String fp = r.value().length >= 10
                            ? hex(ByteBuffer.wrap(r.value(), 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong())
                            : "";
                    try {
                        GenericRecord v = decoder.decode(r.value());
                        out.println(head + ",\"fingerprint\":" + quote(fp) + ",\"value\":" + GenericData.get().toString(v) + "}");
                    } catch (IOException | RuntimeException e) {
                        failures++;
                        System.err.println("cannot decode " + topic + " partition " + r.partition() + " offset " + r.offset()
                                + " (fingerprint " + fp + "): " + e);
                    }
                }
                if (records >= min) {
                    Map<TopicPartition, Long> ends = consumer.endOffsets(parts, Duration.ofSeconds(30));
                    boolean done = true;
                    for (TopicPartition p : parts) {
                        if (consumer.position(p) < ends.get(p)) {
                            done = false;
                        }
                    }
                    if (done) {
                        break;
                    }
                }
                if (System.currentTimeMillis() > deadline) {
                    System.err.println("read " + records + " records of " + topic + " before the deadline, want at least " + min
                            + " and every partition read to its last stable offset");
                    return 1;
                }
            }
        }
        System.err.println("read " + records + " records of " + topic + " (" + tombstones + " tombstones), "
                + failures + " did not decode");
        return failures == 0 ? 0 : 1;
    }

    private static int produce(Map<String, String> flags) throws Exception {
        String topic = need(flags, "topic");
        Schema schema = versions(Path.of(need(flags, "schemas")), "CommandEnvelope").get(0);
        int payments = Integer.parseInt(need(flags, "payments"));
        String prefix = need(flags, "prefix");
        String fp = hex(SchemaNormalization.parsingFingerprint64(schema));
        BinaryMessageEncoder<GenericRecord> encoder = new BinaryMessageEncoder<>(GenericData.get(), schema);
        Schema payloadUnion = schema.getField("payload").schema();

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, need(flags, "brokers"));
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // No partitioner.class: the default partitioner, murmur2 of the key.
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        List<String[]> commands = new ArrayList<>(); // commandId, paymentId, type, key
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < payments; i++) {
                String paymentId = prefix + "-pay-" + i;
                for (int step = 0; step < 2; step++) {
                    String commandId = prefix + "-cmd-" + i + "-" + step;
                    GenericRecord body;
                    String type;
                    if (step == 0) {
                        type = "CreatePayment";
                        body = new GenericData.Record(branch(payloadUnion, type));
                        body.put("amountMinor", 1000L + i);
                        body.put("currency", "EUR");
                        body.put("description", "java interop " + i);
                    } else {
                        type = "ChangePaymentStatus";
                        Schema s = branch(payloadUnion, type);
                        body = new GenericData.Record(s);
                        body.put("status", new GenericData.EnumSymbol(s.getField("status").schema(), "AUTHORIZED"));
                        body.put("reason", "");
                    }
                    GenericRecord cmd = new GenericData.Record(schema);
                    cmd.put("commandId", commandId);
                    cmd.put("type", type);
                    cmd.put("paymentId", paymentId);
                    cmd.put("organizationId", prefix + "-org");
                    cmd.put("userId", prefix + "-user");
                    cmd.put("correlationId", prefix + "-flow-" + i);
                    cmd.put("causationId", step == 0 ? "" : prefix + "-cmd-" + i + "-0");
                    cmd.put("issuedAt", System.currentTimeMillis());
                    cmd.put("expectedVersion", step == 0 ? null : (Object) 1L);
                    cmd.put("payload", body);
                    ByteBuffer buf = encoder.encode(cmd);
                    byte[] value = new byte[buf.remaining()];
                    buf.get(value);

                    RecordHeaders headers = new RecordHeaders();
                    headers.add("prism-type", type.getBytes(StandardCharsets.UTF_8));
                    headers.add("prism-command-id", commandId.getBytes(StandardCharsets.UTF_8));
                    headers.add("prism-correlation-id", (prefix + "-flow-" + i).getBytes(StandardCharsets.UTF_8));
                    headers.add("prism-causation-id", ((String) cmd.get("causationId")).getBytes(StandardCharsets.UTF_8));
                    headers.add("prism-schema", fp.getBytes(StandardCharsets.UTF_8));
                    byte[] key = paymentId.getBytes(StandardCharsets.UTF_8);
                    sent.add(producer.send(new ProducerRecord<>(topic, null, key, value, headers)));
                    commands.add(new String[] {commandId, paymentId, type});
                }
            }
            producer.flush();
            int partitions = producer.partitionsFor(topic).size();
            for (int i = 0; i < sent.size(); i++) {
                RecordMetadata md = sent.get(i).get();
                String[] c = commands.get(i);
                byte[] key = c[1].getBytes(StandardCharsets.UTF_8);
                System.out.println("{\"commandId\":" + quote(c[0]) + ",\"paymentId\":" + quote(c[1])
                        + ",\"type\":" + quote(c[2]) + ",\"fingerprint\":" + quote(fp)
                        + ",\"partition\":" + md.partition() + ",\"offset\":" + md.offset()
                        + ",\"murmur2Partition\":" + Utils.toPositive(Utils.murmur2(key)) % partitions + "}");
            }
        }
        return 0;
    }

    private static Schema branch(Schema union, String name) {
        for (Schema s : union.getTypes()) {
            if (s.getFullName().equals(NAMESPACE + "." + name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("no branch " + name + " in " + union);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"':
                    b.append("\\\"");
                    break;
                case '\\':
                    b.append("\\\\");
                    break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }
}
