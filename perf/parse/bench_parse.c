/*
 * bench_parse - REGISTER parsing speed on one core: parser/ vs libosip2.
 *
 * Both parse the same corpus, a phone's second REGISTER (with Digest
 * Authorization) from ten phone models (tests/parser/corpus/phones/
 * *-2-auth.sip), and both read the same fields a registrar needs; libosip2
 * also frees its message. The process pins itself to one CPU. The last
 * line of output is one JSON object for scripts.
 *
 * Usage: bench_parse [-t seconds_per_parser] [-c cpu] [corpus_dir]
 */
#include <dirent.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <osipparser2/osip_parser.h>

#include "sip_parser.h"

#ifndef BENCH_CORPUS_DIR
#define BENCH_CORPUS_DIR "tests/parser/corpus/phones"
#endif

#define MAX_MSGS 64

static char *msgs[MAX_MSGS];
static size_t lens[MAX_MSGS];
static int n_msgs;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void quiet(const char *fi, int li, osip_trace_level_t level, const char *chfr, va_list ap)
{
	(void)fi;
	(void)li;
	(void)level;
	(void)chfr;
	(void)ap;
}

static int load(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n_msgs < MAX_MSGS) {
		size_t l = strlen(e->d_name);
		if (l < 11 || strcmp(e->d_name + l - 11, "-2-auth.sip") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		msgs[n_msgs] = malloc(8192);
		lens[n_msgs] = fread(msgs[n_msgs], 1, 8192, f);
		fclose(f);
		n_msgs++;
	}
	closedir(d);
	return n_msgs > 0 ? 0 : -1;
}

static size_t sl(struct sip_slice s)
{
	return s.len + (s.ptr != NULL);
}

/* ours: parse, then read the registrar's fields (all already decoded). */
static uint64_t run_ours(uint64_t iters, size_t *sink)
{
	static struct sip_msg m;
	size_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		int k = (int)(i % (uint64_t)n_msgs);
		if (sip_parse(msgs[k], lens[k], &m) != SIP_PARSE_OK)
			abort();
		acc += m.method + sl(m.request_uri.host) + sl(m.via[0].host) + m.via[0].port + sl(m.via[0].branch) +
		       m.via[0].has_rport + sl(m.via[0].received) + sl(m.from.addr.uri.user) + sl(m.from.tag) +
		       sl(m.to.addr.uri.user) + sl(m.to.addr.uri.host) + sl(m.call_id) + m.cseq + m.cseq_method +
		       m.expires + sl(m.user_agent) + m.content_length;
		for (int c = 0; c < m.contact_count; c++)
			acc += sl(m.contact[c].addr.uri.host) + m.contact[c].addr.uri.port + m.contact[c].expires +
			       sl(m.contact[c].instance) + m.contact[c].reg_id;
		if (m.authorization_count > 0) {
			const struct sip_credentials *a = &m.authorization[0];
			acc += sl(a->username) + sl(a->realm) + sl(a->nonce) + sl(a->uri) + sl(a->response) +
			       sl(a->algorithm) + sl(a->qop) + sl(a->nc) + sl(a->cnonce) + sl(a->opaque);
		}
	}
	*sink += acc;
	return iters;
}

static size_t ol(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

static size_t osip_param(osip_list_t *params, const char *name)
{
	osip_generic_param_t *p = NULL;
	if (osip_generic_param_get_byname(params, (char *)name, &p) == 0 && p != NULL)
		return ol(p->gvalue) + 1;
	return 0;
}

/* libosip2: parse, read the same fields through its API, free. */
static uint64_t run_osip(uint64_t iters, size_t *sink)
{
	size_t acc = 0;
	for (uint64_t i = 0; i < iters; i++) {
		int k = (int)(i % (uint64_t)n_msgs);
		osip_message_t *m = NULL;
		osip_message_init(&m);
		if (osip_message_parse(m, msgs[k], lens[k]) != 0)
			abort();
		acc += ol(m->sip_method) + ol(m->req_uri->host);
		osip_via_t *v = NULL;
		if (osip_message_get_via(m, 0, &v) >= 0 && v != NULL)
			acc += ol(v->host) + ol(v->port) + osip_param(&v->via_params, "branch") +
			       osip_param(&v->via_params, "rport") + osip_param(&v->via_params, "received");
		osip_generic_param_t *tag = NULL;
		acc += ol(m->from->url->username);
		if (osip_from_get_tag(m->from, &tag) == 0 && tag != NULL)
			acc += ol(tag->gvalue);
		acc += ol(m->to->url->username) + ol(m->to->url->host);
		acc += ol(osip_call_id_get_number(m->call_id)) + ol(osip_call_id_get_host(m->call_id));
		acc += (size_t)atoi(m->cseq->number) + ol(m->cseq->method);
		osip_header_t *h = NULL;
		if (osip_message_get_expires(m, 0, &h) >= 0 && h != NULL)
			acc += (size_t)atoi(h->hvalue);
		if (osip_message_get_user_agent(m, 0, &h) >= 0 && h != NULL)
			acc += ol(h->hvalue);
		if (m->content_length != NULL)
			acc += (size_t)atoi(m->content_length->value);
		osip_contact_t *c = NULL;
		for (int pos = 0; osip_message_get_contact(m, pos, &c) >= 0 && c != NULL; pos++)
			acc += ol(c->url->host) + ol(c->url->port) + osip_param(&c->gen_params, "expires") +
			       osip_param(&c->gen_params, "+sip.instance") + osip_param(&c->gen_params, "reg-id");
		osip_authorization_t *a = NULL;
		if (osip_message_get_authorization(m, 0, &a) >= 0 && a != NULL)
			acc += ol(a->username) + ol(a->realm) + ol(a->nonce) + ol(a->uri) + ol(a->response) +
			       ol(a->algorithm) + ol(a->message_qop) + ol(a->nonce_count) + ol(a->cnonce) +
			       ol(a->opaque);
		osip_message_free(m);
	}
	*sink += acc;
	return iters;
}

struct meter {
	uint64_t (*fn)(uint64_t, size_t *);
	uint64_t batch; /* messages per ~10 ms */
	uint64_t done;
	uint64_t ns;
};

/* Calibrates a batch of about 10 ms (and warms caches and the allocator). */
static void calibrate(struct meter *m, size_t *sink)
{
	m->batch = 100;
	for (;;) {
		uint64_t t0 = now_ns();
		m->fn(m->batch, sink);
		uint64_t dt = now_ns() - t0;
		if (dt >= 10000000u)
			break;
		m->batch *= 2;
	}
}

static void round_of(struct meter *m, size_t *sink)
{
	uint64_t t0 = now_ns();
	m->done += m->fn(m->batch, sink);
	m->ns += now_ns() - t0;
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	int cpu = -1;
	int opt;
	while ((opt = getopt(argc, argv, "t:c:")) != -1) {
		if (opt == 't')
			seconds = atof(optarg);
		else if (opt == 'c')
			cpu = atoi(optarg);
		else {
			fprintf(stderr, "usage: %s [-t seconds] [-c cpu] [corpus_dir]\n", argv[0]);
			return 2;
		}
	}
	const char *dir = optind < argc ? argv[optind] : BENCH_CORPUS_DIR;
	if (load(dir) != 0) {
		fprintf(stderr, "no *-2-auth.sip messages in %s\n", dir);
		return 1;
	}
	if (cpu < 0)
		cpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("sched_setaffinity (continuing unpinned)");

	parser_init();
	osip_trace_initialize_func(END_TRACE_LEVEL, quiet);

	size_t total = 0;
	for (int i = 0; i < n_msgs; i++)
		total += lens[i];
	/* The two parsers alternate in ~10 ms rounds, so that other load on
	 * the machine (shared 2-core VM) hits both alike and the ratio holds. */
	size_t sink = 0;
	struct meter a = { run_ours, 0, 0, 0 }, b = { run_osip, 0, 0, 0 };
	calibrate(&a, &sink);
	calibrate(&b, &sink);
	while ((double)a.ns < seconds * 1e9 || (double)b.ns < seconds * 1e9) {
		round_of(&a, &sink);
		round_of(&b, &sink);
	}
	double ours = (double)a.done / ((double)a.ns / 1e9);
	double theirs = (double)b.done / ((double)b.ns / 1e9);
	double ratio = ours / theirs;

	printf("corpus: %d REGISTERs with Digest Authorization, mean %zu bytes (%s)\n", n_msgs,
	       total / (size_t)n_msgs, dir);
	printf("one core (cpu %d), %.1f s per parser in alternating 10 ms rounds, parse + field extraction%s\n",
	       cpu, seconds, sink == 42 ? "" : "");
	printf("%-24s %16s %12s\n", "parser", "msgs/s/core", "ns/msg");
	printf("%-24s %16.0f %12.1f\n", "sipreg parser/", ours, 1e9 / ours);
	printf("%-24s %16.0f %12.1f\n", "libosip2 (+free)", theirs, 1e9 / theirs);
	printf("%-24s %16.1fx\n", "ratio", ratio);
	printf("{\"ours_msgs_per_s\": %.0f, \"libosip2_msgs_per_s\": %.0f, \"ratio\": %.2f}\n", ours, theirs, ratio);
	return 0;
}
