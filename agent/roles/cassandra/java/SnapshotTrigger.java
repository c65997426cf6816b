// Takes a Cassandra snapshot through JMX the moment it is told to. Started by the tandem agent
// in Prepare, so the JVM start-up and the JMX connection (a second or more, as with nodetool)
// are paid before the vote; Commit then only writes one line to stdin.
//
// Usage: java SnapshotTrigger.java HOST PORT
// Protocol (stdin/stdout, one line each):
//   out: READY                                   connected to StorageService
//   in:  SNAPSHOT <tag> <keyspace>[,<keyspace>]  take the snapshot now
//   out: DONE <startMillis> <endMillis>          or ERROR <message>
//   in:  QUIT (or end of input)                  exit
// Credentials, when JMX authentication is on, come from TANDEM_JMX_USER / TANDEM_JMX_PASSWORD.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HashMap;
import java.util.Map;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class SnapshotTrigger {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + host + ":" + port + "/jmxrmi");
        Map<String, Object> env = new HashMap<>();
        String user = System.getenv("TANDEM_JMX_USER");
        if (user != null && !user.isEmpty()) {
            env.put(JMXConnector.CREDENTIALS, new String[] {user, System.getenv("TANDEM_JMX_PASSWORD")});
        }
        try (JMXConnector connector = JMXConnectorFactory.connect(url, env)) {
            MBeanServerConnection mbs = connector.getMBeanServerConnection();
            ObjectName ss = new ObjectName("org.apache.cassandra.db:type=StorageService");
            // Touch the MBean once so the first real call pays no lazy class loading.
            mbs.getAttribute(ss, "ReleaseVersion");
            System.out.println("READY");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            for (String line; (line = in.readLine()) != null; ) {
                String[] parts = line.trim().split(" ");
                if (parts[0].equals("QUIT")) break;
                if (!parts[0].equals("SNAPSHOT") || parts.length != 3) {
                    System.out.println("ERROR bad command");
                    System.out.flush();
                    continue;
                }
                try {
                    Map<String, String> options = new HashMap<>();
                    options.put("skipFlush", "false");
                    long start = System.currentTimeMillis();
                    mbs.invoke(ss, "takeSnapshot",
                        new Object[] {parts[1], options, parts[2].split(",")},
                        new String[] {"java.lang.String", "java.util.Map", "[Ljava.lang.String;"});
                    long end = System.currentTimeMillis();
                    System.out.println("DONE " + start + " " + end);
                } catch (Exception e) {
                    Throwable cause = e.getCause() != null ? e.getCause() : e;
                    System.out.println("ERROR " + String.valueOf(cause.getMessage()).replace('\n', ' '));
                }
                System.out.flush();
            }
        }
    }
}
