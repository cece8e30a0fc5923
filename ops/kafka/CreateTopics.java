// Creates loraplane's topics from ops/kafka/topics.tsv on a running broker and waits until every
// partition has a leader. Doubles as ops/kafka/start's readiness check: it retries until the
// broker answers metadata requests. Existing topics are left alone (TopicExistsException is
// success). Single-file program, run without a build step:
//   java -cp 'ops/kafka/lib/*' ops/kafka/CreateTopics.java BOOTSTRAP TOPICS_TSV [TIMEOUT_S]
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopics {
  static List<NewTopic> readSpecs(Path tsv) throws Exception {
    List<NewTopic> topics = new ArrayList<>();
    List<String> lines = Files.readAllLines(tsv);
    if (lines.isEmpty() || !lines.get(0).startsWith("name\t")) {
      throw new IllegalArgumentException(tsv + ": expected a header line starting with 'name'");
    }
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank() || line.startsWith("#")) continue;
      String[] f = line.split("\t");
      if (f.length != 5) throw new IllegalArgumentException(tsv + ": bad line: " + line);
      boolean compacted = Boolean.parseBoolean(f[2]);
      Map<String, String> configs = new HashMap<>();
      configs.put("cleanup.policy", compacted ? "compact" : "delete");
      if (!compacted) configs.put("retention.ms", f[3]);
      configs.put("max.message.bytes", f[4]);
      topics.add(new NewTopic(f[0], Integer.parseInt(f[1]), (short) 1).configs(configs));
    }
    return topics;
  }

  static void waitForBroker(Admin admin, Instant deadline) throws Exception {
    Exception last = null;
    while (Instant.now().isBefore(deadline)) {
      try {
        if (!admin.describeCluster().nodes().get(2, TimeUnit.SECONDS).isEmpty()) return;
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("broker did not answer metadata requests in time", last);
  }

  static void create(Admin admin, List<NewTopic> topics) throws Exception {
    var futures = admin.createTopics(topics).values();
    for (var entry : futures.entrySet()) {
      try {
        entry.getValue().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          throw new IllegalStateException("creating " + entry.getKey() + ": " + e.getCause(), e);
        }
      }
    }
  }

  static void waitForLeaders(Admin admin, List<NewTopic> topics, Instant deadline)
      throws Exception {
    List<String> names = topics.stream().map(NewTopic::name).toList();
    while (true) {
      String missing = null;
      try {
        Map<String, TopicDescription> described =
            admin.describeTopics(names).allTopicNames().get(5, TimeUnit.SECONDS);
        for (NewTopic t : topics) {
          TopicDescription d = described.get(t.name());
          if (d == null || d.partitions().size() < t.numPartitions()) {
            missing = t.name();
          } else {
            for (TopicPartitionInfo p : d.partitions()) {
              if (p.leader() == null) missing = t.name() + "-" + p.partition();
            }
          }
        }
      } catch (ExecutionException e) {
        missing = e.getCause().toString();
      }
      if (missing == null) return;
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException("no leader in time for " + missing);
      }
      Thread.sleep(200);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: CreateTopics BOOTSTRAP TOPICS_TSV [TIMEOUT_S]");
      System.exit(2);
    }
    Duration timeout = Duration.ofSeconds(args.length > 2 ? Long.parseLong(args[2]) : 60);
    Instant deadline = Instant.now().plus(timeout);
    List<NewTopic> topics = readSpecs(Path.of(args[1]));
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "loraplane-create-topics");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    try (Admin admin = Admin.create(props)) {
      waitForBroker(admin, deadline);
      create(admin, topics);
      waitForLeaders(admin, topics, deadline);
    } catch (Exception e) {
      System.err.println("CreateTopics: " + e.getMessage());
      System.exit(1);
    }
  }
}
