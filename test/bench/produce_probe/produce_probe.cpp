// How fast one producer can write upload-sized records to a broker, with the gateway's producer
// settings (idempotent, acks=all, linger.ms=5, one record per request below batch.size) and a
// bounded window of records in flight, like the gateway's chunk sender. No HTTP, no sha256:
// the broker's ceiling that an upload through the gateway cannot pass on the same host.
//
//   produce_probe --bootstrap 127.0.0.1:PORT --topic loraplane.uploads [--records 100]
//                 [--record-bytes 1048576] [--window 8] [--rounds 12] [--batch-bytes 1000000]
//
// One line per round: records, seconds, MB/s (10^6 bytes), and the broker's CPU seconds during
// the round when --broker-pid is given (from /proc/PID/stat).
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Counters {
  int in_flight = 0;
  int delivered = 0;
  int failed = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* c = static_cast<Counters*>(opaque);
  --c->in_flight;
  ++c->delivered;
  if (m->err) {
    if (c->failed++ == 0) std::fprintf(stderr, "produce_probe: %s\n", rd_kafka_err2str(m->err));
  }
}

double cpu_seconds(int pid) {  // utime + stime of a process
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i)
    if (i == 14 || i == 15) ticks += std::stod(f);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"produce_probe: one producer's MB/s to a broker, upload-sized records"};
  std::string bootstrap, topic = "loraplane.uploads", batch = "1000000";
  int records = 100, window = 8, rounds = 12, broker_pid = 0;
  std::size_t record_bytes = 1 << 20;
  app.add_option("--bootstrap", bootstrap)->required();
  app.add_option("--topic", topic);
  app.add_option("--records", records)->check(CLI::Range(1, 100000));
  app.add_option("--record-bytes", record_bytes)->check(CLI::Range(1, 64 << 20));
  app.add_option("--window", window)->check(CLI::Range(1, 1024));
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 1000));
  app.add_option("--batch-bytes", batch);
  app.add_option("--broker-pid", broker_pid);
  CLI11_PARSE(app, argc, argv);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"acks", "all"},
      {"linger.ms", "5"}, {"batch.size", batch}, {"message.max.bytes", "67108864"},
      {"queue.buffering.max.kbytes", "1048576"}};
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "produce_probe: %s: %s\n", key, err);
      return 2;
    }
  }
  Counters counters;
  rd_kafka_conf_set_opaque(conf, &counters);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "produce_probe: %s\n", err);
    return 2;
  }
  std::vector<char> record(record_bytes);
  std::mt19937_64 random(42);  // incompressible, like the bench's adapters
  for (auto& b : record) b = static_cast<char>(random());

  int status = 0;
  for (int round = 0; round <= rounds && status == 0; ++round) {
    const int total = round == 0 ? 10 : records;  // round 0: connection and producer id
    counters = {};
    const double cpu0 = cpu_seconds(broker_pid);
    const auto t0 = std::chrono::steady_clock::now();
    int sent = 0;
    while (counters.delivered < total) {
      while (sent < total && counters.in_flight < window) {
        auto e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                   RD_KAFKA_V_VALUE(record.data(), record.size()),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e) {
          std::fprintf(stderr, "produce_probe: %s\n", rd_kafka_err2str(e));
          status = 1;
          break;
        }
        ++counters.in_flight;
        ++sent;
      }
      if (status) break;
      rd_kafka_poll(rk, 1);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (counters.failed) status = 1;
    if (round > 0 && status == 0)
      std::printf("round %d: %d x %zu B, window %d: %.3f s, %.0f MB/s, broker %.2f CPU-s\n", round,
                  total, record_bytes, window, s, total * static_cast<double>(record_bytes) / s / 1e6,
                  cpu_seconds(broker_pid) - cpu0);
    std::fflush(stdout);
  }
  rd_kafka_flush(rk, 10000);
  rd_kafka_destroy(rk);
  return status;
}
