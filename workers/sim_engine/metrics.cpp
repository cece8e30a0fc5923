// GET /metrics — the vllm:* series clients of a real engine read (names, HELP texts, labels and
// number format of vLLM's PrometheusStatLogger as prometheus_client prints them:
// vllm/v1/metrics/loggers.py), then loraplane_sim_* (what the simulator's cost model did), then
// the process-wide loraplane_* registry (HTTP metrics).
#include "common/metrics.hpp"

#include <charconv>
#include <cmath>

#include "workers/sim_engine/handlers.hpp"

namespace loraplane::sim_engine {

namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels,
            std::string_view value) {
  out.append(name).append("{").append(labels).append("} ").append(value).append("\n");
}

}  // namespace

// prometheus_client's floatToGoString: Python's repr, and Go's exponent form from 1e7 up.
std::string go_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const double a = std::fabs(d);
  const bool sci = a != 0 && (a < 1e-4 || a >= 1e16);
  auto r = std::to_chars(buf, buf + sizeof buf, d,
                         sci ? std::chars_format::scientific : std::chars_format::fixed);
  std::string s(buf, r.ptr);
  if (!sci && s.find('.') == std::string::npos) s += ".0";
  const auto dot = s.find('.');
  if (d > 0 && !sci && dot != std::string::npos && dot > 6) {
    std::string mantissa = s.substr(0, 1) + "." + s.substr(1, dot - 1) + s.substr(dot + 1);
    while (!mantissa.empty() && (mantissa.back() == '0' || mantissa.back() == '.'))
      mantissa.pop_back();
    return mantissa + "e+0" + std::to_string(dot - 1);
  }
  return s;
}

std::string render_vllm_metrics(const EngineState& st) {
  std::string out;
  const std::string engine =
      "engine=\"0\",model_name=\"" + escape_label(st.options.base_model) + "\"";
  auto gauge = [&](std::string_view name, std::string_view help, double value) {
    family(out, name, "gauge", help);
    sample(out, name, engine, go_float(value));
  };
  gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
        static_cast<double>(st.scheduler.running()));
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
        static_cast<double>(st.scheduler.waiting()));
  family(out, "vllm:lora_requests_info", "gauge", "Running stats on lora requests.");
  const std::string max_lora = "max_lora=\"" + std::to_string(st.options.max_loras) + "\"";
  for (const auto& [labels, when] : st.lora_info.series())
    sample(out, "vllm:lora_requests_info",
           max_lora + ",running_lora_adapters=\"" + escape_label(labels.first) +
               "\",waiting_lora_adapters=\"" + escape_label(labels.second) + "\"",
           go_float(when));
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    family(out, name, "counter", help);
    sample(out, name, engine, go_float(static_cast<double>(value)));
  };
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.",
          st.counters.prompt_tokens);
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
          st.counters.generation_tokens);
  family(out, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
  for (const auto& [reason, n] : st.counters.finished)
    sample(out, "vllm:request_success_total",
           "engine=\"0\",finished_reason=\"" + escape_label(reason) + "\",model_name=\"" +
               escape_label(st.options.base_model) + "\"",
           go_float(static_cast<double>(n)));
  return out;
}

std::string render_sim_metrics(const EngineState& st) {
  std::string out;
  const std::string model = "model_name=\"" + escape_label(st.options.base_model) + "\"";
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    family(out, name, "counter", help);
    sample(out, name, model, std::to_string(value));
  };
  const auto& c = st.counters;
  counter("loraplane_sim_adapter_loads_total",
          "Adapter loads from disk into host memory: load API calls and reloads after a "
          "host-memory eviction",
          c.adapter_loads);
  counter("loraplane_sim_adapter_load_failures_total", "Load API calls answered with an error",
          c.adapter_load_failures);
  counter("loraplane_sim_adapter_unloads_total", "Adapters removed through the unload API",
          c.adapter_unloads);
  counter("loraplane_sim_adapter_swaps_total", "Adapters copied from host memory into a GPU slot",
          c.swaps);
  counter("loraplane_sim_gpu_evictions_total", "Idle adapters that lost their GPU slot to another",
          c.gpu_evictions);
  counter("loraplane_sim_cpu_evictions_total",
          "Idle adapters dropped from host memory (max_cpu_loras)", c.cpu_evictions);
  counter("loraplane_sim_requests_rejected_total",
          "Requests answered 503 because the waiting queue was full", c.rejected_queue_full);
  counter("loraplane_sim_client_disconnects_total", "Requests (streamed or not) the client closed before the end",
          c.client_disconnects);
  family(out, "loraplane_sim_adapters", "gauge",
         "Adapters by where their weights are: registered (loaded through the API), cpu (host "
         "memory, GPU ones included), gpu");
  sample(out, "loraplane_sim_adapters", model + ",tier=\"registered\"",
         std::to_string(st.registry.size()));
  sample(out, "loraplane_sim_adapters", model + ",tier=\"cpu\"",
         std::to_string(st.cache.cpu_count()));
  sample(out, "loraplane_sim_adapters", model + ",tier=\"gpu\"",
         std::to_string(st.cache.gpu_count()));
  return out;
}

awaitable<http::Response> metrics(StatePtr state, http::RequestContext&) {
  state->record_lora_info();
  std::string body = render_vllm_metrics(*state) + render_sim_metrics(*state);
  if (state->options.process_metrics) body += loraplane::metrics::serialize();
  co_return http::text_response(http::Status::ok, std::move(body),
                                "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace loraplane::sim_engine
