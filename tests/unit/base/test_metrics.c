#include <criterion/criterion.h>

#include "base/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(const metrics_worker *w, size_t n, bool shutting_down) {
    static char text[METRICS_TEXT_MAX_BYTES];
    metrics_process proc = {.workers = (uint32_t)n, .shutting_down = shutting_down};
    int len = metrics_format(w, n, &proc, text, sizeof text);
    cr_assert_gt(len, 0, "metrics_format -> %d", len);
    cr_assert_eq(strlen(text), (size_t)len);
    return text;
}

static void expect_line(const char *text, const char *line) {
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s\n", line);
    cr_expect_not_null(strstr(text, needle), "missing line '%s'", line);
}

Test(metrics, zero_state_is_complete) {
    metrics_worker w[1];
    memset(w, 0, sizeof w);
    char *text = render(w, 1, false);
    expect_line(text, "ringpad_connections_open 0");
    expect_line(text, "ringpad_shutting_down 0");
    expect_line(text, "# TYPE ringpad_connections_accepted_total counter");
    expect_line(text, "ringpad_connections_closed_total{reason=\"slow_consumer\"} 0");
    expect_line(text, "ringpad_loop_cqes_bucket{le=\"+Inf\"} 0");
    expect_line(text, "ringpad_zerocopy_copied_total 0");
    cr_expect_eq(text[strlen(text) - 1], '\n');
}

Test(metrics, sums_across_workers) {
    metrics_worker *w = calloc(3, sizeof *w);
    for (int i = 0; i < 3; i++) {
        metrics_add(&w[i].accepted, 10);
        metrics_count_close(&w[i], METRICS_CLOSE_PEER_EOF);
        metrics_count_close(&w[i], METRICS_CLOSE_SLOW_CONSUMER);
        metrics_add(&w[i].bytes_in, 1000);
        metrics_add(&w[i].send_queue_bytes, 50);
        metrics_sub(&w[i].send_queue_bytes, 20);
        metrics_add(&w[i].errors[METRICS_ERR_NO_BUFFERS], 1);
        metrics_count_ws_close(&w[i], 1001, true);
        metrics_count_ws_close(&w[i], 4000, false);
        metrics_add(&w[i].zerocopy_sends, 2);
        metrics_add(&w[i].zerocopy_copied, 1);
        metrics_add(&w[i].joined_sends, 4);
        metrics_add(&w[i].http_responses_by_class[4], 1);
    }
    char *text = render(w, 3, true);
    expect_line(text, "ringpad_workers 3");
    expect_line(text, "ringpad_shutting_down 1");
    expect_line(text, "ringpad_connections_accepted_total 30");
    expect_line(text, "ringpad_connections_open 24");
    expect_line(text, "ringpad_connections_closed_total{reason=\"peer_eof\"} 3");
    expect_line(text, "ringpad_connections_closed_total{reason=\"slow_consumer\"} 3");
    expect_line(text, "ringpad_bytes_in_total 3000");
    expect_line(text, "ringpad_send_queue_bytes 90");
    expect_line(text, "ringpad_errors_total{kind=\"no_buffers\"} 3");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"sent\",code=\"1001\"} 3");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"received\",code=\"4000\"} 3");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"received\",code=\"other\"} 0");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"received\",code=\"1001\"} 0");
    expect_line(text, "ringpad_zerocopy_sends_total 6");
    expect_line(text, "ringpad_zerocopy_copied_total 3");
    expect_line(text, "ringpad_joined_sends_total 12");
    expect_line(text, "ringpad_http_responses_total{class=\"4xx\"} 3");
    free(w);
}

Test(metrics, application_close_codes_get_their_own_label) {
    metrics_worker *w = calloc(2, sizeof *w);
    metrics_count_ws_close(&w[0], 4321, false);
    metrics_count_ws_close(&w[1], 4321, false);
    metrics_count_ws_close(&w[1], 3000, true);
    for (uint16_t code = 4000; code < 4000 + METRICS_CLOSE_EXTRA_SLOTS + 3; code++) metrics_count_ws_close(&w[0], code, true);
    char *text = render(w, 2, false);
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"received\",code=\"4321\"} 2");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"sent\",code=\"3000\"} 1");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"sent\",code=\"4000\"} 1");
    expect_line(text, "ringpad_ws_close_frames_total{direction=\"sent\",code=\"other\"} 3");
    free(w);
}

Test(metrics, cqe_histogram_is_cumulative) {
    metrics_worker w[1];
    memset(w, 0, sizeof w);
    metrics_count_iteration(w, 0);
    metrics_count_iteration(w, 1);
    metrics_count_iteration(w, 3);
    metrics_count_iteration(w, 4);
    metrics_count_iteration(w, 1000);
    char *text = render(w, 1, false);
    expect_line(text, "ringpad_loop_iterations_total 5");
    expect_line(text, "ringpad_loop_cqes_bucket{le=\"1\"} 2");
    expect_line(text, "ringpad_loop_cqes_bucket{le=\"2\"} 2");
    expect_line(text, "ringpad_loop_cqes_bucket{le=\"4\"} 4");
    expect_line(text, "ringpad_loop_cqes_bucket{le=\"512\"} 4");
    expect_line(text, "ringpad_loop_cqes_bucket{le=\"+Inf\"} 5");
    expect_line(text, "ringpad_loop_cqes_sum 1008");
    expect_line(text, "ringpad_loop_cqes_count 5");
}

Test(metrics, too_small_buffer) {
    metrics_worker w[1];
    memset(w, 0, sizeof w);
    char small[64];
    metrics_process proc = {.workers = 1};
    cr_assert_eq(metrics_format(w, 1, &proc, small, sizeof small), -ENOSPC);
    cr_assert_eq(metrics_format(w, 1, &proc, small, 0), -ENOSPC);
}

Test(metrics, names) {
    cr_assert_str_eq(metrics_close_reason_str(METRICS_CLOSE_IDLE), "idle_timeout");
    cr_assert_str_eq(metrics_close_reason_str(METRICS_CLOSE_REASON_COUNT), "unknown");
    cr_assert_str_eq(metrics_error_kind_str(METRICS_ERR_SEND), "send");
    cr_assert_str_eq(metrics_error_kind_str(METRICS_ERR_KIND_COUNT), "unknown");
}
