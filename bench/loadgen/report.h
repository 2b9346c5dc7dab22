/* The load generator's output: a readable table and a JSON document. */
#ifndef RINGPAD_LG_REPORT_H
#define RINGPAD_LG_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

/* True when the run counts as failed: divergence, unverified clients, broken
 * op streams, refused ops, echo mismatches, or nothing measured. */
bool lg_report_failed(const lg_config *cfg, const lg_stats *st);
void lg_report_table(FILE *out, const lg_config *cfg, const lg_stats *st);
/* 0 or -EIO. */
int lg_report_json(FILE *out, const lg_config *cfg, const lg_stats *st);

#endif
