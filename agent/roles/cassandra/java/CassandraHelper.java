// One warm JVM per agent that serves the cassandra role's calls to its node over JMX, so that no
// step pays a JVM start (a second or more each, as nodetool does): the ring and schema checks of
// Prepare, the snapshot at Commit, the flush before it, clearing snapshots, `nodetool import`'s
// call, and the offline row count (RowCounter, compiled beside this class against Cassandra's
// jars and loaded only when asked).
//
// Usage: java CassandraHelper HOST PORT
// Protocol: one line per message. Requests carry an id; replies may come in any order.
//   out: READY <release-version>                        connected
//   in:  <id> PING | VERSION | RING | SCHEMA | LISTSNAPSHOTS
//   in:  <id> SNAPSHOT <tag> <keyspace>[,<keyspace>]    (empty list: every keyspace, as "-")
//   in:  <id> FLUSH <keyspace>
//   in:  <id> CLEAR <tag> <keyspace>
//   in:  <id> IMPORT <keyspace> <table> <folder>
//   in:  <id> COUNT <now-seconds> <tokens|-> <folder>[:<folder>...]
//   out: <id> OK [payload]  or  <id> ERR <message>
//   out: <id> STARTED                                   SNAPSHOT only: its JMX call leaves now
//   in:  QUIT (or end of input)                         exit
// Only protocol lines go to stdout: System.out is pointed at stderr before anything can log.
// Credentials, when JMX authentication is on, come from TANDEM_JMX_USER / TANDEM_JMX_PASSWORD.
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;
import javax.management.openmbean.TabularData;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class CassandraHelper {
    private static PrintStream protocol;
    private static String host;
    private static int port;
    private static JMXConnector connector;
    private static MBeanServerConnection mbs;
    private static final Object countLock = new Object();

    public static void main(String[] args) throws Exception {
        protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        System.setOut(System.err);
        host = args[0];
        port = Integer.parseInt(args[1]);
        String version;
        try {
            version = (String) connection().getAttribute(ss(), "ReleaseVersion");
        } catch (Exception e) {
            System.err.println("cannot connect to JMX at " + host + ":" + port);
            e.printStackTrace();
            System.exit(3);
            return;
        }
        send("READY " + version);
        read(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)));
        // Reading went on in a pool thread (a SNAPSHOT came): that thread exits the JVM at the end.
        new CountDownLatch(1).await();
    }

    private static final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r);
        t.setDaemon(true);
        return t;
    });

    /**
     * Reads requests until QUIT or the end of input, then exits. Each request runs on a pool
     * thread but SNAPSHOT: the reading thread takes it itself and hands the reading on, so that
     * the request reaches Cassandra without waiting for another thread to be woken (on a busy
     * host, a wake-up can cost tens of milliseconds of the nodes' spread).
     */
    private static void read(BufferedReader in) {
        try {
            for (String line; (line = in.readLine()) != null; ) {
                String[] words = line.trim().split(" ");
                if (words[0].equals("QUIT")) break;
                if (words.length < 2) continue;
                if (words[1].equals("SNAPSHOT")) {
                    pool.submit(() -> read(in));
                    serve(words);
                    return;
                }
                pool.submit(() -> serve(words));
            }
        } catch (IOException e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }

    /** Runs one request and sends its reply. */
    private static void serve(String[] words) {
        String reply;
        try {
            reply = "OK" + suffix(handle(words));
        } catch (Throwable t) {
            Throwable cause = t;
            while (cause.getCause() != null) cause = cause.getCause();
            reply = "ERR " + oneLine(cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
        send(words[0] + " " + reply);
    }

    private static String suffix(String payload) {
        return payload == null || payload.isEmpty() ? "" : " " + payload;
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    private static void send(String line) {
        synchronized (protocol) {
            protocol.println(line);
            protocol.flush();
        }
    }

    private static ObjectName ss() throws Exception {
        return new ObjectName("org.apache.cassandra.db:type=StorageService");
    }

    /** The JMX connection, opened again after a lost one (a restarted node). */
    private static synchronized MBeanServerConnection connection() throws IOException {
        if (mbs == null) {
            JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + host + ":" + port + "/jmxrmi");
            Map<String, Object> env = new HashMap<>();
            String user = System.getenv("TANDEM_JMX_USER");
            if (user != null && !user.isEmpty()) env.put(JMXConnector.CREDENTIALS, new String[] {user, System.getenv("TANDEM_JMX_PASSWORD")});
            connector = JMXConnectorFactory.connect(url, env);
            mbs = connector.getMBeanServerConnection();
        }
        return mbs;
    }

    private static synchronized void dropConnection() {
        try {
            if (connector != null) connector.close();
        } catch (IOException ignored) {
            // already gone
        }
        connector = null;
        mbs = null;
    }

    /** A read-only or idempotent call: once more on a fresh connection when the first one was lost. */
    interface Call {
        Object run(MBeanServerConnection c) throws Exception;
    }

    private static Object retried(Call call) throws Exception {
        try {
            return call.run(connection());
        } catch (IOException e) {
            dropConnection();
            return call.run(connection());
        }
    }

    private static String handle(String[] w) throws Exception {
        switch (w[1]) {
            case "PING":
                return "";
            case "VERSION":
                return (String) retried(c -> c.getAttribute(ss(), "ReleaseVersion"));
            case "RING":
                return ring();
            case "SCHEMA":
                return schema();
            case "LISTSNAPSHOTS":
                return listSnapshots();
            case "SNAPSHOT": {
                // Not retried: a lost reply may hide a snapshot that was taken.
                Map<String, String> options = new HashMap<>();
                options.put("skipFlush", "false");
                String[] keyspaces = w[3].equals("-") ? new String[0] : w[3].split(",");
                long start = System.currentTimeMillis();
                // The agent holds the node's other cuts (Elasticsearch, files) until this line: on a
                // busy host they would otherwise take the cores this thread needs to send the call.
                send(w[0] + " STARTED");
                try {
                    connection().invoke(ss(), "takeSnapshot", new Object[] {w[2], options, keyspaces},
                        new String[] {"java.lang.String", "java.util.Map", "[Ljava.lang.String;"});
                } catch (IOException e) {
                    dropConnection();
                    throw e;
                }
                return start + " " + System.currentTimeMillis();
            }
            case "FLUSH": {
                long start = System.currentTimeMillis();
                retried(c -> c.invoke(ss(), "forceKeyspaceFlush", new Object[] {w[2], new String[0]},
                    new String[] {"java.lang.String", "[Ljava.lang.String;"}));
                return start + " " + System.currentTimeMillis();
            }
            case "CLEAR":
                retried(c -> c.invoke(ss(), "clearSnapshot", new Object[] {w[2], new String[] {w[3]}},
                    new String[] {"java.lang.String", "[Ljava.lang.String;"}));
                return "";
            case "IMPORT":
                return importTable(w[2], w[3], w[4]);
            case "COUNT":
                return count(w);
            default:
                throw new IllegalArgumentException("unknown command " + w[1]);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<String> list(MBeanServerConnection c, String attribute) throws Exception {
        Object v = c.getAttribute(ss(), attribute);
        return v == null ? Collections.emptyList() : (List<String>) v;
    }

    /** The ring as `nodetool status` shows it: one "<state>,<address>,<datacenter>,<host-id>" per node. */
    @SuppressWarnings("unchecked")
    private static String ring() throws Exception {
        return (String) retried(c -> {
            Map<String, String> hostIds = (Map<String, String>) c.getAttribute(ss(), "EndpointToHostId");
            Map<String, String> tokens = (Map<String, String>) c.getAttribute(ss(), "TokenToEndpointMap");
            List<String> live = list(c, "LiveNodes"), down = list(c, "UnreachableNodes");
            List<String> joining = list(c, "JoiningNodes"), leaving = list(c, "LeavingNodes"), moving = list(c, "MovingNodes");
            Set<String> endpoints = new TreeSet<>(hostIds.keySet());
            endpoints.addAll(tokens.values());
            endpoints.addAll(joining);
            ObjectName snitch = new ObjectName("org.apache.cassandra.db:type=EndpointSnitchInfo");
            StringBuilder sb = new StringBuilder();
            for (String e : endpoints) {
                char status = live.contains(e) ? 'U' : down.contains(e) ? 'D' : '?';
                char state = joining.contains(e) ? 'J' : leaving.contains(e) ? 'L' : moving.contains(e) ? 'M' : 'N';
                String dc = (String) c.invoke(snitch, "getDatacenter", new Object[] {e}, new String[] {"java.lang.String"});
                if (sb.length() > 0) sb.append(' ');
                sb.append(status).append(state).append(',').append(e).append(',').append(encode(dc)).append(',').append(hostIds.getOrDefault(e, "-"));
            }
            return sb.toString();
        });
    }

    /** Schema versions across the cluster: "<version>=<address>|<address>" each. */
    @SuppressWarnings("unchecked")
    private static String schema() throws Exception {
        return (String) retried(c -> {
            Map<String, List<String>> versions = (Map<String, List<String>>) c.getAttribute(new ObjectName("org.apache.cassandra.db:type=StorageProxy"), "SchemaVersions");
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, List<String>> e : versions.entrySet()) {
                if (sb.length() > 0) sb.append(' ');
                sb.append(e.getKey()).append('=').append(String.join("|", e.getValue()));
            }
            return sb.toString();
        });
    }

    /** Snapshot tags per keyspace: "<tag>,<keyspace>" each. */
    @SuppressWarnings("unchecked")
    private static String listSnapshots() throws Exception {
        return (String) retried(c -> {
            Map<String, TabularData> details = (Map<String, TabularData>) c.getAttribute(ss(), "SnapshotDetails");
            Set<String> out = new TreeSet<>();
            for (Map.Entry<String, TabularData> e : details.entrySet()) {
                for (Object row : e.getValue().values()) {
                    out.add(encode(e.getKey()) + "," + ((CompositeData) row).get("Keyspace name"));
                }
            }
            return String.join(" ", out);
        });
    }

    /** `nodetool import`'s call, with its defaults; the folders Cassandra could not import are an error. */
    @SuppressWarnings("unchecked")
    private static String importTable(String keyspace, String table, String folder) throws Exception {
        ObjectName cfs = new ObjectName("org.apache.cassandra.db:type=Tables,keyspace=" + keyspace + ",table=" + table);
        Set<String> paths = new java.util.HashSet<>(Collections.singletonList(folder));
        List<String> failed = (List<String>) connection().invoke(cfs, "importNewSSTables",
            new Object[] {paths, true, true, true, true, true, false, false, false, true},
            new String[] {"java.util.Set", "boolean", "boolean", "boolean", "boolean", "boolean", "boolean", "boolean", "boolean", "boolean"});
        if (!failed.isEmpty()) throw new IllegalStateException("Cassandra could not import " + String.join(", ", failed) + "; see its system.log");
        return "";
    }

    /** One table's rows, counted offline by RowCounter; one count at a time bounds the heap. */
    private static String count(String[] w) throws Exception {
        synchronized (countLock) {
            Class<?> counter = Class.forName("RowCounter");
            counter.getMethod("init").invoke(null);
            long now = Long.parseLong(w[2]);
            long[] ring = w[3].equals("-") ? new long[0] : java.util.Arrays.stream(w[3].split(",")).mapToLong(Long::parseLong).sorted().toArray();
            try {
                return (String) counter.getMethod("count", String[].class, long.class, long[].class).invoke(null, w[4].split(":"), now, ring);
            } finally {
                // Give the heap back to the system between counts: the helper idles most of the day.
                System.gc();
            }
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s == null ? "" : s, StandardCharsets.UTF_8);
    }
}
