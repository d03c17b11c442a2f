/*
 * sip_diff.h - run parser/sip_parser.h and libosip2 (the oracle) on the same
 * bytes and compare every field the registrar uses. Shared by the
 * differential test (tests/parser/test_differential.c) and the libFuzzer
 * target tests/fuzz/fuzz_parser_diff.c.
 */
#ifndef SIPREG_SIP_DIFF_H
#define SIPREG_SIP_DIFF_H

#include <stddef.h>

#include "sip_parser.h"

enum sip_diff_verdict {
	SIP_DIFF_BOTH_REJECT,
	SIP_DIFF_EQUAL,           /* both accept, every compared field equal */
	SIP_DIFF_FIELD_MISMATCH,  /* both accept, a field differs: see why */
	SIP_DIFF_ONLY_OURS_ACCEPT,
	SIP_DIFF_ONLY_OSIP_ACCEPT,
};

struct sip_diff_result {
	enum sip_diff_verdict verdict;
	enum sip_parse_status ours;
	int osip_rc;
	char why[512];
};

/* Calls libosip2's parser_init(); once per process, before sip_diff_run. */
void sip_diff_init(void);

/* Parses buf[0..len) with both parsers and compares. Never fails: every
 * outcome is a verdict in *r. */
void sip_diff_run(const char *buf, size_t len, struct sip_diff_result *r);

const char *sip_diff_verdict_name(enum sip_diff_verdict v);

#endif
