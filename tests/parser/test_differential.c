/*
 * Differential test: our parser against libosip2 over tests/parser/corpus/
 * (RFC 4475 torture messages, phone REGISTERs) and deterministic mutations
 * of them. Wherever both accept, every field must be equal (sip_diff.c).
 * Every acceptance disagreement must be listed in known-differences.txt
 * with the RFC rule that makes ours right; anything unlisted fails.
 *
 * Usage: test_differential [corpus-dir] [known-differences-file]
 *        SIP_DIFF_VERBOSE=1 prints every message's verdict.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip_diff.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "tests/parser/corpus"
#endif
#ifndef KNOWN_DIFFERENCES
#define KNOWN_DIFFERENCES "tests/parser/known-differences.txt"
#endif

/* Under -Db_sanitize=address: libosip2 5.3 leaks on some malformed
 * messages (a repeated Content-Type, found by tests/fuzz/fuzz_parser_diff);
 * that is the oracle's bug, and our parser never allocates. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

static const char *corpus_dir = CORPUS_DIR;
static const char *known_file = KNOWN_DIFFERENCES;
static bool verbose;

/* known-differences.txt, one entry per line:
 *   file <corpus path> <verdict>   | <RFC rule>
 *   status <SIP_PARSE_NAME>         | <RFC rule>   (mutations we reject, osip accepts)
 *   mutation <kind> <verdict>       | <RFC rule>   (mutation kind, any base message)
 */
#define MAX_KNOWN 512
static struct known {
	char kind[16];
	char key[128];
	char verdict[32];
	bool used;
} known[MAX_KNOWN];
static int known_count;

static void load_known(void)
{
	FILE *f = fopen(known_file, "r");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", known_file);
		exit(2);
	}
	char line[1024];
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char *bar = strchr(line, '|');
		if (bar == NULL || strlen(bar) < 8) {
			fprintf(stderr, "known-differences: entry without an RFC rule: %s", line);
			exit(2);
		}
		*bar = '\0';
		struct known *k = &known[known_count];
		int n = sscanf(line, "%15s %127s %31s", k->kind, k->key, k->verdict);
		if (n < 2 || known_count >= MAX_KNOWN - 1) {
			fprintf(stderr, "known-differences: bad line: %s\n", line);
			exit(2);
		}
		if (n == 2)
			k->verdict[0] = '\0';
		known_count++;
	}
	fclose(f);
}

static bool is_listed(const char *kind, const char *key, const char *verdict)
{
	for (int i = 0; i < known_count; i++) {
		if (strcmp(known[i].kind, kind) == 0 && strcmp(known[i].key, key) == 0 &&
		    (known[i].verdict[0] == '\0' || strcmp(known[i].verdict, verdict) == 0)) {
			known[i].used = true;
			return true;
		}
	}
	return false;
}

struct tally {
	int total, equal, both_reject, listed, unlisted;
};

static void report(struct tally *t)
{
	printf("# %d messages: %d equal, %d both reject, %d listed differences, %d UNLISTED\n", t->total,
	       t->equal, t->both_reject, t->listed, t->unlisted);
}

/* Checks one message. name identifies it for messages; file_key is the
 * corpus path for corpus files, mutation_kind the mutation for generated
 * messages (NULL otherwise). */
static void check(struct tally *t, const char *buf, size_t len, const char *name, const char *file_key,
		  const char *mutation_kind)
{
	struct sip_diff_result r;
	sip_diff_run(buf, len, &r);
	t->total++;
	const char *v = sip_diff_verdict_name(r.verdict);
	if (verbose)
		printf("# %-60s %-18s ours=%s osip=%d %s\n", name, v, sip_parse_status_name(r.ours), r.osip_rc, r.why);
	switch (r.verdict) {
	case SIP_DIFF_EQUAL:
		t->equal++;
		return;
	case SIP_DIFF_BOTH_REJECT:
		t->both_reject++;
		return;
	default:
		break;
	}
	bool ok = false;
	ok = is_listed("file", file_key != NULL ? file_key : name, v);
	if (!ok && mutation_kind != NULL) {
		ok = is_listed("mutation", mutation_kind, v);
		if (!ok && r.verdict == SIP_DIFF_ONLY_OSIP_ACCEPT)
			ok = is_listed("status", sip_parse_status_name(r.ours), "");
	}
	if (ok) {
		t->listed++;
		return;
	}
	t->unlisted++;
	const char *dump = getenv("SIP_DIFF_DUMP");
	if (dump != NULL) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%.900s", dump, name);
		for (char *q = path + strlen(dump) + 1; *q; q++)
			if (*q == '/')
				*q = '_';
		FILE *fp = fopen(path, "wb");
		if (fp != NULL) {
			fwrite(buf, 1, len, fp);
			fclose(fp);
		}
	}
	printf("# UNLISTED %s: %s (ours=%s osip=%d) %s\n", name, v, sip_parse_status_name(r.ours), r.osip_rc, r.why);
}

struct file {
	char path[256];  /* relative to corpus_dir */
	char *data;
	size_t len;
};
#define MAX_FILES 256
static struct file files[MAX_FILES];
static int file_count;

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->path, ((const struct file *)b)->path);
}

static void load_dir(const char *sub)
{
	char dpath[512];
	snprintf(dpath, sizeof(dpath), "%s/%s", corpus_dir, sub);
	DIR *d = opendir(dpath);
	if (d == NULL) {
		fprintf(stderr, "cannot open %s\n", dpath);
		exit(2);
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && file_count < MAX_FILES) {
		if (e->d_name[0] == '.')
			continue;
		struct file *f = &files[file_count];
		snprintf(f->path, sizeof(f->path), "%.60s/%.180s", sub, e->d_name);
		char fpath[1024];
		snprintf(fpath, sizeof(fpath), "%s/%s", corpus_dir, f->path);
		FILE *fp = fopen(fpath, "rb");
		if (fp == NULL)
			continue;
		f->data = malloc(70000);
		f->len = fread(f->data, 1, 70000, fp);
		fclose(fp);
		file_count++;
	}
	closedir(d);
}

static void check_corpus(const char *sub)
{
	struct tally t = { 0 };
	for (int i = 0; i < file_count; i++)
		if (strncmp(files[i].path, sub, strlen(sub)) == 0)
			check(&t, files[i].data, files[i].len, files[i].path, files[i].path, NULL);
	report(&t);
	assert_int_equal(t.unlisted, 0);
	assert_true(t.total > 0);
}

static void test_rfc4475_torture_messages_agree_with_libosip2(void **state)
{
	(void)state;
	check_corpus("rfc4475/");
}

static void test_phone_registers_agree_with_libosip2(void **state)
{
	(void)state;
	check_corpus("phones/");
}

/* ---- mutations ---- */

static char out[140000];

static size_t replace_all(const char *in, size_t len, const char *from, const char *to, char *dst)
{
	size_t fl = strlen(from), tl = strlen(to), o = 0;
	for (size_t i = 0; i < len;) {
		if (i + fl <= len && memcmp(in + i, from, fl) == 0) {
			memcpy(dst + o, to, tl);
			o += tl;
			i += fl;
		} else {
			dst[o++] = in[i++];
		}
	}
	return o;
}

/* Header lines of the message: offsets of line starts, up to the empty line. */
static int header_lines(const char *m, size_t len, size_t *starts, size_t *ends, int max)
{
	int n = 0;
	const char *p = memchr(m, '\n', len);
	if (p == NULL)
		return 0;
	size_t i = (size_t)(p - m) + 1;
	while (i < len && n < max) {
		if (m[i] == '\r' || m[i] == '\n')
			break;
		const char *nl = memchr(m + i, '\n', len - i);
		if (nl == NULL)
			break;
		starts[n] = i;
		ends[n] = (size_t)(nl - m) + 1;
		n++;
		i = ends[n - 1];
	}
	return n;
}

static uint32_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void mutate_and_check(struct tally *t, const struct file *f)
{
	char name[1024];
	size_t n;
	static const struct { const char *from, *to; } compact[] = {
		{ "\nVia:", "\nv:" }, { "\nFrom:", "\nf:" }, { "\nTo:", "\nt:" }, { "\nCall-ID:", "\ni:" },
		{ "\nContact:", "\nm:" }, { "\nContent-Length:", "\nl:" }, { "\nSupported:", "\nk:" },
	};
	const char *m = f->data;
	size_t len = f->len;

	n = replace_all(m, len, "\r\n", "\n", out);
	snprintf(name, sizeof(name), "%.200s~lf-only", f->path);
	check(t, out, n, name, NULL, "lf-only");

	n = len;
	memcpy(out, m, len);
	for (size_t i = 0; i < sizeof(compact) / sizeof(compact[0]); i++) {
		static char tmp[140000];
		size_t k = replace_all(out, n, compact[i].from, compact[i].to, tmp);
		memcpy(out, tmp, k);
		n = k;
	}
	snprintf(name, sizeof(name), "%.200s~compact", f->path);
	check(t, out, n, name, NULL, "compact");

	n = replace_all(m, len, ": ", "  :   ", out);
	snprintf(name, sizeof(name), "%.200s~colon-spaces", f->path);
	check(t, out, n, name, NULL, "colon-spaces");

	n = replace_all(m, len, ", ", ",\r\n  ", out);
	snprintf(name, sizeof(name), "%.200s~fold-commas", f->path);
	check(t, out, n, name, NULL, "fold-commas");

	size_t starts[64], ends[64];
	int lines = header_lines(m, len, starts, ends, 64);
	for (int i = 0; i < lines; i++) {
		/* delete line i */
		memcpy(out, m, starts[i]);
		memcpy(out + starts[i], m + ends[i], len - ends[i]);
		n = len - (ends[i] - starts[i]);
		snprintf(name, sizeof(name), "%.200s~delete-line-%d", f->path, i);
		check(t, out, n, name, NULL, "delete-line");
		/* duplicate line i */
		memcpy(out, m, ends[i]);
		memcpy(out + ends[i], m + starts[i], ends[i] - starts[i]);
		memcpy(out + ends[i] + (ends[i] - starts[i]), m + ends[i], len - ends[i]);
		n = len + (ends[i] - starts[i]);
		snprintf(name, sizeof(name), "%.200s~duplicate-line-%d", f->path, i);
		check(t, out, n, name, NULL, "duplicate-line");
		/* upper-case the header name */
		memcpy(out, m, len);
		for (size_t k = starts[i]; k < ends[i] && out[k] != ':'; k++)
			if (out[k] >= 'a' && out[k] <= 'z')
				out[k] = (char)(out[k] - 32);
		snprintf(name, sizeof(name), "%.200s~upper-name-%d", f->path, i);
		check(t, out, len, name, NULL, "upper-name");
	}
	for (size_t cut = 1; cut < len; cut += 29) {
		snprintf(name, sizeof(name), "%.200s~truncate-%zu", f->path, cut);
		memcpy(out, m, cut);
		check(t, out, cut, name, NULL, "truncate");
	}
	static const char interesting[] = ";,\"<>: \r\n@[]=%0a\\/\t*";
	rng_state = (uint32_t)len;
	for (int i = 0; i < 40; i++) {
		memcpy(out, m, len);
		size_t pos = rnd() % len;
		out[pos] = interesting[rnd() % (sizeof(interesting) - 1)];
		snprintf(name, sizeof(name), "%.200s~byte-%zu-%02x", f->path, pos, (unsigned char)out[pos]);
		check(t, out, len, name, NULL, "byte");
	}
}

static void test_mutations_agree_with_libosip2(void **state)
{
	(void)state;
	struct tally t = { 0 };
	/* Mutate only messages both parsers accept identically, so that each
	 * difference found comes from the mutation. */
	for (int i = 0; i < file_count; i++) {
		struct sip_diff_result r;
		sip_diff_run(files[i].data, files[i].len, &r);
		if (r.verdict == SIP_DIFF_EQUAL)
			mutate_and_check(&t, &files[i]);
	}
	report(&t);
	assert_int_equal(t.unlisted, 0);
}

static void test_every_listed_difference_still_happens(void **state)
{
	(void)state;
	int stale = 0;
	for (int i = 0; i < known_count; i++) {
		if (!known[i].used) {
			printf("# stale entry in %s: %s %s %s\n", known_file, known[i].kind, known[i].key,
			       known[i].verdict);
			stale++;
		}
	}
	assert_int_equal(stale, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		corpus_dir = argv[1];
	if (argc > 2)
		known_file = argv[2];
	verbose = getenv("SIP_DIFF_VERBOSE") != NULL;
	sip_diff_init();
	load_known();
	load_dir("rfc4475");
	load_dir("phones");
	qsort(files, (size_t)file_count, sizeof(files[0]), cmp_file);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4475_torture_messages_agree_with_libosip2),
		cmocka_unit_test(test_phone_registers_agree_with_libosip2),
		cmocka_unit_test(test_mutations_agree_with_libosip2),
		cmocka_unit_test(test_every_listed_difference_still_happens),
	};
	return cmocka_run_group_tests_name("parser-differential", tests, NULL, NULL);
}
