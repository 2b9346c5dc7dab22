/* Scenario names, statistics merging and the server process's RSS and CPU. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


const char *const lg_err_code_names[LG_ERR_CODES] = {
    "bad_json", "bad_message", "unknown_type", "unauthorized", "forbidden", "bad_doc_name",
    "bad_op", "version_too_old", "version_ahead", "doc_too_large", "op_too_large",
    "too_many_docs", "rate_limited", "not_open", "storage_unavailable", "internal", "other",
};

static const char *const scenario_names[LG_SC_COUNT] = {"docs", "hot", "fanout", "storm",
                                                        "paste", "idle", "echo", "tls"};

const char *lg_scenario_str(lg_scenario s) {
    return (unsigned)s < LG_SC_COUNT ? scenario_names[s] : "?";
}

int lg_scenario_parse(const char *name) {
    for (int i = 0; i < LG_SC_COUNT; i++)
        if (strcmp(name, scenario_names[i]) == 0) return i;
    return -1;
}

void lg_stats_init(lg_stats *s) {
    memset(s, 0, sizeof(*s));
    lg_hist_reset(&s->ack);
    lg_hist_reset(&s->delivery);
    for (int i = 0; i < LG_MAX_SERVERS; i++) lg_hist_reset(&s->delivery_by_server[i]);
    lg_hist_reset(&s->connect);
    lg_hist_reset(&s->echo);
    lg_hist_reset(&s->tls_handshake);
}

void lg_stats_merge(lg_stats *d, const lg_stats *s) {
    lg_hist_merge(&d->ack, &s->ack);
    lg_hist_merge(&d->delivery, &s->delivery);
    for (int i = 0; i < LG_MAX_SERVERS; i++) lg_hist_merge(&d->delivery_by_server[i], &s->delivery_by_server[i]);
    lg_hist_merge(&d->connect, &s->connect);
    lg_hist_merge(&d->echo, &s->echo);
    lg_hist_merge(&d->tls_handshake, &s->tls_handshake);
#define ADD(f) d->f += s->f
    ADD(ops_sent); ADD(acks); ADD(remote_ops); ADD(edits); ADD(frames_rx); ADD(frames_tx);
    ADD(bytes_rx); ADD(bytes_tx); ADD(messages_rx); ADD(parses_shared); ADD(parses); ADD(echoes); ADD(connections_opened);
    ADD(connect_failed); ADD(handshake_failed); ADD(closed_by_peer); ADD(ws_protocol_errors);
    ADD(client_errors); ADD(echo_mismatch); ADD(edits_behind); ADD(ready_connections);
    ADD(clients_checked); ADD(clients_diverged); ADD(clients_unverified); ADD(docs_checked);
    ADD(clients_equal);
    ADD(tls_handshakes); ADD(tls_resumed); ADD(tls_failed); ADD(server_cpu_s);
#undef ADD
    for (int i = 0; i < LG_ERR_CODES; i++) d->err_by_code[i] += s->err_by_code[i];
    d->verify_ran |= s->verify_ran;
}

uint64_t lg_proc_rss_kb(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

double lg_proc_cpu_s(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after "(comm)": state is the 3rd field, utime the 14th, stime the 15th */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    long tck = sysconf(_SC_CLK_TCK);
    return tck > 0 ? (double)(utime + stime) / (double)tck : -1;
}

