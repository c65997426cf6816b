// Counts the live CQL rows of a table's SSTables, read offline with Cassandra's own classes, as
// Cassandra would serve them at a given instant: every SSTable of the table merged (so overwrites
// count once and tombstones hide what they delete), TTLs judged at that instant.
//
// Loaded by CassandraHelper (its COUNT command) in the agent's warm helper JVM, whose classpath
// holds Cassandra's jars. count() takes one table's SSTable folders (several are merged), the
// instant in seconds, and the Murmur3 tokens of the node's datacenter ring (rows are also counted
// per ring range, every range, empty ones as 0, keyed by the range's end token); it returns
//   ROWS <rows> <partitions> <range-end>=<rows>,...   (or "ROWS <rows> <partitions> -")
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import org.apache.cassandra.config.DatabaseDescriptor;
import org.apache.cassandra.db.partitions.PartitionIterator;
import org.apache.cassandra.db.partitions.UnfilteredPartitionIterator;
import org.apache.cassandra.db.partitions.UnfilteredPartitionIterators;
import org.apache.cassandra.db.rows.RowIterator;
import org.apache.cassandra.dht.Token;
import org.apache.cassandra.io.sstable.Component;
import org.apache.cassandra.io.sstable.Descriptor;
import org.apache.cassandra.io.sstable.format.SSTableReader;
import org.apache.cassandra.io.util.File;
import org.apache.cassandra.schema.TableMetadata;
import org.apache.cassandra.schema.TableMetadataRef;
import org.apache.cassandra.tools.Util;
import org.apache.cassandra.utils.Pair;

public class RowCounter {
    private static boolean initialized;

    /** Once per JVM: Cassandra's client mode (no node started), its logging quiet. */
    public static synchronized void init() {
        if (initialized) return;
        quietLogging();
        DatabaseDescriptor.clientInitialization();
        initialized = true;
    }

    public static String count(String[] dirs, long now, long[] ring) throws Exception {
        List<Descriptor> descriptors = new ArrayList<>();
        for (String d : dirs) {
            File[] files = new File(d).tryList();
            if (files == null) throw new IllegalArgumentException("not a folder: " + d);
            for (File f : files) {
                if (!f.name().endsWith("-Data.db")) continue;
                Pair<Descriptor, Component> p = Descriptor.fromFileWithComponent(f, false);
                descriptors.add(p.left);
            }
        }
        if (descriptors.isEmpty()) return "ROWS 0 0 -";
        // One metadata for the merge: the SSTable header naming the most columns (older SSTables
        // may predate a column added since).
        TableMetadata metadata = null;
        for (Descriptor d : descriptors) {
            TableMetadata m = Util.metadataFromSSTable(d);
            if (metadata == null || m.columns().size() > metadata.columns().size()) metadata = m;
        }
        TableMetadataRef ref = TableMetadataRef.forOfflineTools(metadata);
        List<SSTableReader> readers = new ArrayList<>();
        List<UnfilteredPartitionIterator> scanners = new ArrayList<>();
        for (Descriptor d : descriptors) {
            SSTableReader r = SSTableReader.openNoValidation(null, d, ref);
            readers.add(r);
            scanners.add(r.getScanner());
        }
        long rows = 0, partitions = 0;
        TreeMap<Long, Long> byRange = new TreeMap<>();
        // Every range of the ring, empty ones included: a replica holding nothing of a range is a view too.
        for (long end : ring) byRange.put(end, 0L);
        UnfilteredPartitionIterator merged = scanners.size() == 1 ? scanners.get(0) : UnfilteredPartitionIterators.merge(scanners, UnfilteredPartitionIterators.MergeListener.NOOP);
        try (PartitionIterator live = UnfilteredPartitionIterators.filter(merged, now)) {
            while (live.hasNext()) {
                try (RowIterator p = live.next()) {
                    long n = 0;
                    while (p.hasNext()) {
                        p.next();
                        n++;
                    }
                    // A partition with only static cells is one row to SELECT.
                    if (n == 0 && !p.staticRow().isEmpty()) n = 1;
                    if (n == 0) continue;
                    rows += n;
                    partitions++;
                    if (ring.length > 0) byRange.merge(rangeEnd(p.partitionKey().getToken(), ring), n, Long::sum);
                }
            }
        } finally {
            for (SSTableReader r : readers) r.selfRef().release();
        }
        StringBuilder sb = new StringBuilder("ROWS ").append(rows).append(' ').append(partitions).append(' ');
        if (byRange.isEmpty()) return sb.append('-').toString();
        boolean first = true;
        for (var e : byRange.entrySet()) {
            if (!first) sb.append(',');
            sb.append(e.getKey()).append('=').append(e.getValue());
            first = false;
        }
        return sb.toString();
    }

    /** The ring token that ends the range holding this token: the first one at or above it, wrapping. */
    static long rangeEnd(Token token, long[] ring) {
        long t = (Long) token.getTokenValue();
        int i = Arrays.binarySearch(ring, t);
        if (i >= 0) return ring[i];
        int ins = -i - 1;
        return ins < ring.length ? ring[ins] : ring[0];
    }

    static void quietLogging() {
        try {
            org.slf4j.Logger root = org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
            if (root instanceof ch.qos.logback.classic.Logger) ((ch.qos.logback.classic.Logger) root).setLevel(ch.qos.logback.classic.Level.ERROR);
        } catch (Throwable ignored) {
            // logging stays as configured
        }
    }
}
