#include "report.h"

#include <errno.h>
#include <inttypes.h>

static bool proto(const lg_config *cfg) {
    return cfg->scenario == LG_SC_DOCS || cfg->scenario == LG_SC_HOT ||
           cfg->scenario == LG_SC_FANOUT || cfg->scenario == LG_SC_PASTE;
}

static uint64_t errors_total(const lg_stats *st) {
    uint64_t n = 0;
    for (int i = 0; i < LG_ERR_CODES; i++) n += st->err_by_code[i];
    return n;
}

bool lg_report_failed(const lg_config *cfg, const lg_stats *st) {
    if (st->clients_diverged || st->client_errors || st->echo_mismatch || st->ws_protocol_errors)
        return true;
    if (proto(cfg) && (st->clients_unverified || errors_total(st) || st->acks == 0)) return true;
    if (cfg->scenario == LG_SC_ECHO && st->echoes == 0) return true;
    if (cfg->scenario == LG_SC_STORM && st->connections_opened == 0) return true;
    if (cfg->scenario == LG_SC_IDLE && st->ready_connections < cfg->connections) return true;
    if (cfg->tls && st->tls_failed) return true;
    if (cfg->scenario == LG_SC_TLS && st->tls_handshakes == 0) return true;
    return false;
}

static double per_s(uint64_t n, double s) { return s > 0 ? (double)n / s : 0; }

static void hist_row(FILE *out, const char *name, const lg_hist *h) {
    if (h->count == 0) {
        fprintf(out, "  %-22s %10s\n", name, "-");
        return;
    }
    fprintf(out, "  %-22s %10" PRIu64 " %9.0f %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
            name, h->count, lg_hist_mean(h), lg_hist_percentile(h, 50), lg_hist_percentile(h, 90),
            lg_hist_percentile(h, 99), lg_hist_percentile(h, 99.9), h->max_us);
}

void lg_report_table(FILE *out, const lg_config *cfg, const lg_stats *st) {
    double s = st->measured_s;
    fprintf(out, "ringpad-bench  scenario=%s  %s:%u", lg_scenario_str(cfg->scenario), cfg->host, (unsigned)cfg->port);
    for (uint32_t i = 1; i < cfg->nservers; i++) fprintf(out, ",%u", (unsigned)cfg->ports[i]);
    fprintf(out, "%s  connections=%u", cfg->path, cfg->connections);
    if (proto(cfg)) fprintf(out, " docs=%u", cfg->docs);
    fprintf(out, " threads=%u  %s", cfg->threads, cfg->rate_ops_s > 0 ? "open loop" : "closed loop");
    if (cfg->rate_ops_s > 0) fprintf(out, " %.0f ops/s", cfg->rate_ops_s);
    fprintf(out, "  window=%.1fs (+%.1fs warm-up)\n", s, cfg->warmup_s);
    if (cfg->tls)
        fprintf(out, "  TLS 1.%d%s%s%s\n", cfg->tls_version - 10, cfg->tls_resume ? ", resuming a ticket" : ", full handshakes",
                cfg->tls_ca[0] ? ", chain verified against " : ", chain not verified", cfg->tls_ca);
    fprintf(out, "  ready connections: %" PRIu64 " of %u\n", st->ready_connections, cfg->connections);
    fprintf(out, "\n  %-22s %10s %9s %9s %9s %9s %9s %9s\n", "latency (us)", "count", "mean", "p50", "p90",
            "p99", "p99.9", "max");
    if (cfg->scenario != LG_SC_TLS) hist_row(out, "connect (to 101)", &st->connect);
    if (cfg->tls) hist_row(out, "TLS handshake", &st->tls_handshake);
    if (proto(cfg)) {
        hist_row(out, "submit -> ack", &st->ack);
        hist_row(out, "submit -> delivery", &st->delivery);
        for (uint32_t i = 0; i < cfg->nservers && cfg->nservers > 1; i++) {
            char name[32];
            snprintf(name, sizeof name, "  readers of :%u", (unsigned)cfg->ports[i]);
            hist_row(out, name, &st->delivery_by_server[i]);
        }
    }
    if (cfg->scenario == LG_SC_ECHO) hist_row(out, "echo round trip", &st->echo);
    fprintf(out, "\n  throughput\n");
    if (proto(cfg)) {
        fprintf(out, "    ops acked/s          %12.0f   (%" PRIu64 " acks, %" PRIu64 " ops sent, %" PRIu64 " local edits)\n",
                per_s(st->acks, s), st->acks, st->ops_sent, st->edits);
        fprintf(out, "    ops delivered/s      %12.0f   (%" PRIu64 " remote ops applied)\n",
                per_s(st->remote_ops, s), st->remote_ops);
    }
    if (cfg->scenario == LG_SC_ECHO)
        fprintf(out, "    echoes/s             %12.0f   (%u-byte messages)\n", per_s(st->echoes, s),
                cfg->message_bytes);
    if (cfg->scenario == LG_SC_STORM)
        fprintf(out, "    connections/s        %12.0f   (%" PRIu64 " upgraded)\n",
                per_s(st->connections_opened, s), st->connections_opened);
    if (cfg->scenario == LG_SC_TLS)
        fprintf(out, "    handshakes/s         %12.0f   (%" PRIu64 " handshakes, %" PRIu64 " resumed)\n",
                per_s(st->tls_handshakes, s), st->tls_handshakes, st->tls_resumed);
    fprintf(out, "    frames in/s          %12.0f   frames out/s %12.0f\n", per_s(st->frames_rx, s),
            per_s(st->frames_tx, s));
    fprintf(out, "    MB/s in              %12.2f   MB/s out     %12.2f\n", per_s(st->bytes_rx, s) / 1e6,
            per_s(st->bytes_tx, s) / 1e6);
    if (cfg->scenario == LG_SC_IDLE && st->server_rss_after_kb) {
        double per = st->ready_connections
                         ? ((double)st->server_rss_after_kb - (double)st->server_rss_before_kb) * 1024.0 /
                               (double)st->ready_connections
                         : 0;
        fprintf(out, "\n  server RSS: %" PRIu64 " KiB before, %" PRIu64 " KiB with %" PRIu64
                     " idle connections: %.0f bytes per connection\n",
                st->server_rss_before_kb, st->server_rss_after_kb, st->ready_connections, per);
    }
    if (cfg->server_pid > 0 && st->server_cpu_s > 0)
        fprintf(out, "\n  server CPU in the window: %.2f s (%.0f %% of one core)\n", st->server_cpu_s,
                s > 0 ? 100.0 * st->server_cpu_s / s : 0);
    fprintf(out, "\n  errors: connect %" PRIu64 ", handshake %" PRIu64 ", closed by peer %" PRIu64
                 ", ws protocol %" PRIu64 ", client %" PRIu64 ", echo mismatch %" PRIu64,
            st->connect_failed, st->handshake_failed, st->closed_by_peer, st->ws_protocol_errors,
            st->client_errors, st->echo_mismatch);
    if (st->edits_behind) fprintf(out, ", open-loop edits dropped %" PRIu64, st->edits_behind);
    if (cfg->tls) fprintf(out, ", TLS %" PRIu64, st->tls_failed);
    fprintf(out, "\n");
    for (int i = 0; i < LG_ERR_CODES; i++)
        if (st->err_by_code[i]) fprintf(out, "    error %-20s %" PRIu64 "\n", lg_err_code_names[i], st->err_by_code[i]);
    if (proto(cfg)) {
        fprintf(out, "  convergence: %" PRIu64 " docs, %" PRIu64 " clients equal to the server's snapshot, %" PRIu64
                     " diverged, %" PRIu64 " unverified\n",
                /* a refused client is unverified and diverged without being checked:
                 * checked - diverged would underflow */
                st->docs_checked, st->clients_equal, st->clients_diverged,
                st->clients_unverified);
    }
    fprintf(out, "  result: %s\n", lg_report_failed(cfg, st) ? "FAIL" : "ok");
}

static void hist_json(FILE *out, const char *name, const lg_hist *h, bool last) {
    fprintf(out, "    \"%s\": {\"count\": %" PRIu64 ", \"mean\": %.1f, \"min\": %" PRIu64 ", \"p50\": %" PRIu64
                 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}%s\n",
            name, h->count, lg_hist_mean(h), h->count ? h->min_us : 0, lg_hist_percentile(h, 50),
            lg_hist_percentile(h, 90), lg_hist_percentile(h, 99), lg_hist_percentile(h, 99.9), h->max_us,
            last ? "" : ",");
}

int lg_report_json(FILE *out, const lg_config *cfg, const lg_stats *st) {
    double s = st->measured_s;
    fprintf(out, "{\n  \"tool\": \"ringpad-bench\",\n  \"scenario\": \"%s\",\n", lg_scenario_str(cfg->scenario));
    fprintf(out, "  \"config\": {\"host\": \"%s\", \"port\": %u, \"path\": \"%s\", \"connections\": %u, "
                 "\"docs\": %u, \"threads\": %u, \"duration_s\": %.3f, \"warmup_s\": %.3f, \"rate_ops_s\": %.1f, "
                 "\"message_bytes\": %u, \"seed\": %" PRIu64 "},\n",
            cfg->host, (unsigned)cfg->port, cfg->path, cfg->connections, cfg->docs, cfg->threads,
            cfg->duration_s, cfg->warmup_s, cfg->rate_ops_s, cfg->message_bytes, cfg->seed);
    fprintf(out, "  \"ports\": [");
    for (uint32_t i = 0; i < cfg->nservers; i++) fprintf(out, "%s%u", i ? ", " : "", (unsigned)cfg->ports[i]);
    fprintf(out, "],\n");
    fprintf(out, "  \"ready_connections\": %" PRIu64 ",\n", st->ready_connections);
    fprintf(out, "  \"latency_us\": {\n");
    hist_json(out, "connect", &st->connect, false);
    hist_json(out, "ack", &st->ack, false);
    hist_json(out, "delivery", &st->delivery, false);
    hist_json(out, "echo", &st->echo, false);
    hist_json(out, "tls_handshake", &st->tls_handshake, true);
    fprintf(out, "  },\n  \"delivery_by_server_us\": {\n");
    for (uint32_t i = 0; i < cfg->nservers && cfg->nservers > 1; i++) {
        char port[8];
        snprintf(port, sizeof port, "%u", (unsigned)cfg->ports[i]);
        hist_json(out, port, &st->delivery_by_server[i], i + 1 == cfg->nservers);
    }
    fprintf(out, "  },\n  \"throughput\": {\"ops_acked_per_s\": %.1f, \"ops_delivered_per_s\": %.1f, "
                 "\"echoes_per_s\": %.1f, \"connections_per_s\": %.1f, \"frames_in_per_s\": %.1f, "
                 "\"frames_out_per_s\": %.1f, \"bytes_in_per_s\": %.1f, \"bytes_out_per_s\": %.1f},\n",
            per_s(st->acks, s), per_s(st->remote_ops, s), per_s(st->echoes, s),
            per_s(st->connections_opened, s), per_s(st->frames_rx, s), per_s(st->frames_tx, s),
            per_s(st->bytes_rx, s), per_s(st->bytes_tx, s));
    fprintf(out, "  \"counts\": {\"acks\": %" PRIu64 ", \"ops_sent\": %" PRIu64 ", \"edits\": %" PRIu64
                 ", \"remote_ops\": %" PRIu64 ", \"echoes\": %" PRIu64 ", \"connections_opened\": %" PRIu64 "},\n",
            st->acks, st->ops_sent, st->edits, st->remote_ops, st->echoes, st->connections_opened);
    fprintf(out, "  \"errors\": {\"connect\": %" PRIu64 ", \"handshake\": %" PRIu64 ", \"closed_by_peer\": %" PRIu64
                 ", \"ws_protocol\": %" PRIu64 ", \"client\": %" PRIu64 ", \"echo_mismatch\": %" PRIu64
                 ", \"open_loop_dropped\": %" PRIu64,
            st->connect_failed, st->handshake_failed, st->closed_by_peer, st->ws_protocol_errors,
            st->client_errors, st->echo_mismatch, st->edits_behind);
    for (int i = 0; i < LG_ERR_CODES; i++) fprintf(out, ", \"%s\": %" PRIu64, lg_err_code_names[i], st->err_by_code[i]);
    fprintf(out, "},\n");
    fprintf(out, "  \"convergence\": {\"ran\": %s, \"docs\": %" PRIu64 ", \"clients_checked\": %" PRIu64
                 ", \"diverged\": %" PRIu64 ", \"unverified\": %" PRIu64 "},\n",
            st->verify_ran ? "true" : "false", st->docs_checked, st->clients_checked, st->clients_diverged,
            st->clients_unverified);
    fprintf(out, "  \"tls\": {\"on\": %s, \"version\": \"1.%d\", \"resume\": %s, \"handshakes\": %" PRIu64
                 ", \"resumed\": %" PRIu64 ", \"failed\": %" PRIu64 ", \"handshakes_per_s\": %.1f},\n",
            cfg->tls ? "true" : "false", cfg->tls ? cfg->tls_version - 10 : 3, cfg->tls_resume ? "true" : "false",
            st->tls_handshakes, st->tls_resumed, st->tls_failed, per_s(st->tls_handshakes, s));
    fprintf(out, "  \"server_rss_kb\": {\"before\": %" PRIu64 ", \"after\": %" PRIu64 "},\n",
            st->server_rss_before_kb, st->server_rss_after_kb);
    fprintf(out, "  \"server_messages\": {\"parsed\": %" PRIu64 ", \"parse_shared\": %" PRIu64 "},\n", st->parses,
            st->parses_shared);
    fprintf(out, "  \"server_cpu_s\": %.3f,\n", st->server_cpu_s);
    fprintf(out, "  \"failed\": %s\n}\n", lg_report_failed(cfg, st) ? "true" : "false");
    return ferror(out) ? -EIO : 0;
}
