/**
 * How to start a JVM that loads Cassandra's own classes (the offline row counter): Cassandra 5.0
 * on JDK 17 needs the module exports and opens of its conf/jvm17-*.options.
 */

/** JPMS flags of Cassandra 5.0's conf/jvm17-server.options (plus the few extra the clients file adds). */
export const CASSANDRA_JDK17_FLAGS: readonly string[] = [
  ...['java.base/jdk.internal.misc', 'java.base/jdk.internal.ref', 'java.base/sun.nio.ch',
    'java.management.rmi/com.sun.jmx.remote.internal.rmi', 'java.rmi/sun.rmi.registry', 'java.rmi/sun.rmi.server',
    'java.sql/java.sql', 'java.base/java.lang.ref', 'jdk.unsupported/sun.misc', 'jdk.compiler/com.sun.tools.javac.file',
    'jdk.attach/sun.tools.attach'].flatMap((p) => ['--add-exports', `${p}=ALL-UNNAMED`]),
  ...['java.base/java.lang.module', 'java.base/jdk.internal.loader', 'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect', 'java.base/jdk.internal.math', 'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar', 'jdk.management/com.sun.management.internal', 'java.base/sun.nio.ch',
    'java.base/java.io', 'java.base/java.lang.reflect', 'jdk.compiler/com.sun.tools.javac', 'java.base/java.lang',
    'java.base/java.util', 'java.base/java.util.concurrent', 'java.base/java.util.concurrent.atomic',
    'java.base/java.math', 'java.base/java.net'].flatMap((p) => ['--add-opens', `${p}=ALL-UNNAMED`]),
];
