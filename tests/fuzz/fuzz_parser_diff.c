/*
 * libFuzzer target: our parser against libosip2 (tests/parser/sip_diff.c).
 * Aborts when both accept a message and a compared field differs.
 * Acceptance disagreements are not failures here: libosip2 tolerates much
 * that RFC 3261 forbids (tests/parser/known-differences.txt lists the
 * classes); the differential test pins the ones in the corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sip_diff.h"

/* libosip2 5.3 leaks on some malformed inputs (e.g. a repeated
 * Content-Type leaks the first one, found by this target). That is the
 * oracle's bug, not ours: leak checking stays on in fuzz_parser. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sip_diff_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_diff_result r;
	sip_diff_run((const char *)data, size, &r);
	if (r.verdict == SIP_DIFF_FIELD_MISMATCH) {
		fprintf(stderr, "field mismatch (ours=%s osip=%d): %s\n", sip_parse_status_name(r.ours), r.osip_rc,
			r.why);
		abort();
	}
	return 0;
}
