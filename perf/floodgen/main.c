/*
 * main.c — perf/flood: options, then the generator or the responder.
 *
 * See `perf/flood --help` and the usage text below for the workloads, and
 * how to measure the generator's own ceiling against --responder.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "flood.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: flood [options] --target ADDR[:PORT]        generate REGISTER load\n"
"       flood --responder --listen ADDR[:PORT]       trivial 401/200 registrar\n"
"\n"
"Workload\n"
"  --workload W          storm (each operation: REGISTER, 401, REGISTER+digest, 200),\n"
"                        refresh (register all users first, then measure refreshes\n"
"                        with the cached nonce, nc+1; --rechallenge to start each\n"
"                        refresh without credentials), mixed (storm with --bad-pct\n"
"                        wrong passwords), unregister (register all, measure Expires: 0)\n"
"  --bad-pct P           mixed: percent of operations with a wrong password (20);\n"
"                        401/403 to them count as rejected, a 200 as bad_accepted\n"
"  --no-auth             plain REGISTER: expect 200 to the first request\n"
"  --users N             user set size (1000, at most 10 M: ~400 bytes each);\n"
"                        users u000000.. with --user-format\n"
"  --user-base N         number of the first user (0)\n"
"  --user-format F       printf format with one %%d for usernames (u%%06d)\n"
"  --password-format F   printf format with one %%d for passwords (pw%%06d)\n"
"  --users-csv FILE      username,password lines instead of the formats\n"
"  --domain D            Request-URI and AOR domain (sipreg.test)\n"
"  --expires S           Expires of registrations (3600)\n"
"Load\n"
"  --target ADDR[:PORT]  registrar (port 5060); IPv6 as [2001:db8::1]:5060\n"
"  --src LIST            source addresses, comma separated, ranges a-b allowed:\n"
"                        198.18.0.2-198.18.0.33,198.18.1.2-198.18.1.33 (default: kernel's)\n"
"  --sockets-per-src K   UDP sockets (ports) per source address (1)\n"
"  --src-port P          local port of the first socket per source, then P+1..;\n"
"                        0: ephemeral. Default 5060 with --src, else 0. A fixed\n"
"                        port keeps each user's Contact the same across runs, so\n"
"                        the registrar refreshes bindings instead of adding them\n"
"  --rate R              operations started per second, token bucket (0: as fast\n"
"                        as the window allows)\n"
"  --window W            operations in flight at most (1000)\n"
"  --count N             measured operations (default: --users)\n"
"  --duration S          measured phase stops after S seconds (10)\n"
"  --setup-timeout S     refresh/unregister set-up phase limit (60)\n"
"  --t1-ms MS            first retransmit after MS, doubling (500)\n"
"  --retransmits N       retransmits before a timeout (2, at most 7)\n"
"  --rcvbuf BYTES        socket buffers (4194304)\n"
"  --seed N              PRNG seed (run id, bad-password choice)\n"
"  --quiet               only the JSON line\n"
"Responder\n"
"  --responder           answer REGISTER: no Authorization -> 401, else 200\n"
"  --listen ADDR[:PORT]  address to answer on (port 5060)\n"
"  --algorithm A         challenge algorithm MD5 or SHA-256 (MD5)\n"
"  --duration S          stop after S seconds (300; SIGTERM stops it earlier)\n"
"\n"
"Output: a table, then one JSON object as the last line.\n"
"\n"
"Generator ceiling: run the responder in the server namespace and the\n"
"generator against it, as fast as possible (no --rate):\n"
"  ip netns exec sipreg-srv perf/flood --responder --listen 198.18.0.1:5060 --duration 30 &\n"
"  ip netns exec sipreg-cli perf/flood --target 198.18.0.1:5060 \\\n"
"      --src 198.18.0.2-198.18.0.33 --users 100000 --count 300000 --duration 10\n"
"completed_per_s is the ceiling for digest registrations (2 requests each).\n");
}

int parse_addr_port(const char *s, uint16_t default_port, struct flood_addr *out)
{
	char host[INET6_ADDRSTRLEN + 8];
	unsigned long port = default_port;
	const char *colon;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || (size_t)(rb - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		if (rb[1] == ':')
			port = strtoul(rb + 2, NULL, 10);
		else if (rb[1] != '\0')
			return -1;
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		if ((size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = strtoul(colon + 1, NULL, 10);
	} else {
		if (strlen(s) >= sizeof(host))
			return -1;
		strcpy(host, s);
	}
	if (port > 65535)
		return -1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*a4);
		snprintf(out->host, sizeof(out->host), "%s", host);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*a6);
		snprintf(out->host, sizeof(out->host), "[%s]", host);
	} else {
		return -1;
	}
	return 0;
}

/* "a", or "a-b" (same family, b >= a, low 32 bits incremented). */
static int add_source_item(struct flood_config *cfg, char *item)
{
	char *dash = strchr(item, '-');
	struct flood_addr lo, hi;

	if (dash != NULL)
		*dash = '\0';
	if (parse_addr_port(item, 0, &lo) != 0)
		return -1;
	if (dash == NULL) {
		if (cfg->n_sources == FLOOD_MAX_SOURCES)
			return -1;
		cfg->sources[cfg->n_sources++] = lo;
		return 0;
	}
	if (parse_addr_port(dash + 1, 0, &hi) != 0 || hi.ss.ss_family != lo.ss.ss_family)
		return -1;
	uint32_t from, to;
	if (lo.ss.ss_family == AF_INET) {
		from = ntohl(((struct sockaddr_in *)&lo.ss)->sin_addr.s_addr);
		to = ntohl(((struct sockaddr_in *)&hi.ss)->sin_addr.s_addr);
	} else {
		uint32_t w;
		memcpy(&w, &((struct sockaddr_in6 *)&lo.ss)->sin6_addr.s6_addr[12], 4);
		from = ntohl(w);
		memcpy(&w, &((struct sockaddr_in6 *)&hi.ss)->sin6_addr.s6_addr[12], 4);
		to = ntohl(w);
		if (memcmp(&((struct sockaddr_in6 *)&lo.ss)->sin6_addr, &((struct sockaddr_in6 *)&hi.ss)->sin6_addr, 12) != 0)
			return -1;
	}
	if (to < from || to - from >= FLOOD_MAX_SOURCES - cfg->n_sources)
		return -1;
	for (uint64_t v = from; v <= to; v++) {
		struct flood_addr a = lo;
		char ip[INET6_ADDRSTRLEN];
		if (a.ss.ss_family == AF_INET) {
			struct sockaddr_in *a4 = (struct sockaddr_in *)&a.ss;
			a4->sin_addr.s_addr = htonl((uint32_t)v);
			inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
			snprintf(a.host, sizeof(a.host), "%s", ip);
		} else {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a.ss;
			uint32_t w = htonl((uint32_t)v);
			memcpy(&a6->sin6_addr.s6_addr[12], &w, 4);
			inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
			snprintf(a.host, sizeof(a.host), "[%s]", ip);
		}
		cfg->sources[cfg->n_sources++] = a;
	}
	return 0;
}

static int parse_sources(struct flood_config *cfg, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;
	for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save))
		if (add_source_item(cfg, item) != 0) {
			fprintf(stderr, "flood: bad source '%s'\n", item);
			rc = -1;
			break;
		}
	free(copy);
	return rc;
}

/* A user or password format takes exactly one %d (with flags/width). */
static int check_format(const char *f)
{
	int conversions = 0;
	for (const char *p = f; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		p++;
		while (*p == '0' || *p == '-' || (*p >= '1' && *p <= '9'))
			p++;
		if (*p != 'd')
			return -1;
		conversions++;
	}
	return conversions == 1 ? 0 : -1;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > max)
		return -1;
	*out = v;
	return 0;
}

enum {
	OPT_WORKLOAD = 256, OPT_BAD_PCT, OPT_NO_AUTH, OPT_USERS, OPT_USER_BASE, OPT_USER_FORMAT,
	OPT_PASSWORD_FORMAT, OPT_USERS_CSV, OPT_DOMAIN, OPT_EXPIRES, OPT_TARGET, OPT_SRC,
	OPT_SOCKETS_PER_SRC, OPT_SRC_PORT, OPT_RATE, OPT_WINDOW, OPT_COUNT, OPT_DURATION, OPT_SETUP_TIMEOUT,
	OPT_T1, OPT_RETRANSMITS, OPT_RCVBUF, OPT_SEED, OPT_QUIET, OPT_RESPONDER, OPT_LISTEN,
	OPT_ALGORITHM, OPT_RECHALLENGE, OPT_HELP,
};

static const struct option options[] = {
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "bad-pct", required_argument, NULL, OPT_BAD_PCT },
	{ "no-auth", no_argument, NULL, OPT_NO_AUTH },
	{ "users", required_argument, NULL, OPT_USERS },
	{ "user-base", required_argument, NULL, OPT_USER_BASE },
	{ "user-format", required_argument, NULL, OPT_USER_FORMAT },
	{ "password-format", required_argument, NULL, OPT_PASSWORD_FORMAT },
	{ "users-csv", required_argument, NULL, OPT_USERS_CSV },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "sockets-per-src", required_argument, NULL, OPT_SOCKETS_PER_SRC },
	{ "src-port", required_argument, NULL, OPT_SRC_PORT },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "setup-timeout", required_argument, NULL, OPT_SETUP_TIMEOUT },
	{ "t1-ms", required_argument, NULL, OPT_T1 },
	{ "retransmits", required_argument, NULL, OPT_RETRANSMITS },
	{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "responder", no_argument, NULL, OPT_RESPONDER },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "algorithm", required_argument, NULL, OPT_ALGORITHM },
	{ "rechallenge", no_argument, NULL, OPT_RECHALLENGE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	static struct flood_config cfg;
	bool have_target = false, have_listen = false;
	unsigned long long v;
	int opt;

	cfg.workload = WORKLOAD_STORM;
	cfg.sockets_per_source = 1;
	cfg.src_port = -1;
	snprintf(cfg.domain, sizeof(cfg.domain), "sipreg.test");
	cfg.users = 1000;
	snprintf(cfg.user_format, sizeof(cfg.user_format), "u%%06d");
	snprintf(cfg.password_format, sizeof(cfg.password_format), "pw%%06d");
	cfg.window = 1000;
	cfg.duration_s = 10;
	cfg.setup_timeout_s = 60;
	cfg.bad_pct = 20;
	cfg.t1_ms = 500;
	cfg.retransmits = 2;
	cfg.expires_s = 3600;
	cfg.rcvbuf = 4u << 20;
	cfg.responder_duration_s = 300;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int bad = 0;
		switch (opt) {
		case OPT_WORKLOAD:
			if (strcmp(optarg, "storm") == 0) cfg.workload = WORKLOAD_STORM;
			else if (strcmp(optarg, "refresh") == 0) cfg.workload = WORKLOAD_REFRESH;
			else if (strcmp(optarg, "mixed") == 0) cfg.workload = WORKLOAD_MIXED;
			else if (strcmp(optarg, "unregister") == 0) cfg.workload = WORKLOAD_UNREG;
			else bad = 1;
			break;
		case OPT_BAD_PCT: bad = parse_uint(optarg, 100, &v); cfg.bad_pct = (unsigned)v; break;
		case OPT_NO_AUTH: cfg.no_auth = true; break;
		case OPT_USERS: bad = parse_uint(optarg, 10000000, &v) || v == 0; cfg.users = (unsigned)v; break;
		case OPT_USER_BASE: bad = parse_uint(optarg, 1000000000, &v); cfg.user_base = (unsigned)v; break;
		case OPT_USER_FORMAT:
			bad = check_format(optarg) != 0 || strlen(optarg) >= sizeof(cfg.user_format);
			if (!bad) snprintf(cfg.user_format, sizeof(cfg.user_format), "%s", optarg);
			break;
		case OPT_PASSWORD_FORMAT:
			bad = check_format(optarg) != 0 || strlen(optarg) >= sizeof(cfg.password_format);
			if (!bad) snprintf(cfg.password_format, sizeof(cfg.password_format), "%s", optarg);
			break;
		case OPT_USERS_CSV: cfg.users_csv = optarg; break;
		case OPT_DOMAIN:
			bad = strlen(optarg) >= sizeof(cfg.domain) || strpbrk(optarg, " \r\n\"") != NULL;
			if (!bad) snprintf(cfg.domain, sizeof(cfg.domain), "%s", optarg);
			break;
		case OPT_EXPIRES: bad = parse_uint(optarg, 1u << 30, &v); cfg.expires_s = (unsigned)v; break;
		case OPT_TARGET: bad = parse_addr_port(optarg, 5060, &cfg.target); have_target = !bad; break;
		case OPT_SRC: bad = parse_sources(&cfg, optarg); break;
		case OPT_SOCKETS_PER_SRC: bad = parse_uint(optarg, 64, &v) || v == 0; cfg.sockets_per_source = (unsigned)v; break;
		case OPT_SRC_PORT: bad = parse_uint(optarg, 65535, &v); cfg.src_port = (int)v; break;
		case OPT_RATE: cfg.rate = strtod(optarg, NULL); bad = cfg.rate < 0; break;
		case OPT_WINDOW: bad = parse_uint(optarg, 10000000, &v) || v == 0; cfg.window = (unsigned)v; break;
		case OPT_COUNT: bad = parse_uint(optarg, 1ull << 40, &v); cfg.count = v; break;
		case OPT_DURATION:
			cfg.duration_s = cfg.responder_duration_s = strtod(optarg, NULL);
			bad = cfg.duration_s <= 0;
			break;
		case OPT_SETUP_TIMEOUT: cfg.setup_timeout_s = strtod(optarg, NULL); bad = cfg.setup_timeout_s <= 0; break;
		case OPT_T1: bad = parse_uint(optarg, 60000, &v) || v == 0; cfg.t1_ms = (unsigned)v; break;
		case OPT_RETRANSMITS: bad = parse_uint(optarg, 7, &v); cfg.retransmits = (unsigned)v; break;
		case OPT_RCVBUF: bad = parse_uint(optarg, 1u << 30, &v); cfg.rcvbuf = (unsigned)v; break;
		case OPT_SEED: bad = parse_uint(optarg, UINT64_MAX, &v); cfg.seed = v; break;
		case OPT_QUIET: cfg.quiet = true; break;
		case OPT_RESPONDER: cfg.responder = true; break;
		case OPT_LISTEN: bad = parse_addr_port(optarg, 5060, &cfg.listen); have_listen = !bad; break;
		case OPT_ALGORITHM:
			if (strcasecmp(optarg, "MD5") == 0) cfg.responder_algo = DIGEST_MD5;
			else if (strcasecmp(optarg, "SHA-256") == 0) cfg.responder_algo = DIGEST_SHA256;
			else bad = 1;
			break;
		case OPT_RECHALLENGE: cfg.refresh_rechallenge = true; break;
		case OPT_HELP: case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "flood: bad value for --%s: '%s'\n", options[opt - OPT_WORKLOAD].name, optarg);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (cfg.responder) {
		if (!have_listen) {
			fprintf(stderr, "flood: --responder needs --listen ADDR[:PORT]\n");
			return 2;
		}
		return responder_run(&cfg);
	}
	if (cfg.src_port < 0)
		cfg.src_port = cfg.n_sources != 0 ? 5060 : 0;
	if (cfg.src_port != 0 && cfg.src_port + (int)cfg.sockets_per_source > 65536) {
		fprintf(stderr, "flood: --src-port + --sockets-per-src passes 65535\n");
		return 2;
	}
	if (!have_target) {
		fprintf(stderr, "flood: --target ADDR[:PORT] is required\n");
		return 2;
	}
	if (digest_init() != 0) {
		fprintf(stderr, "flood: OpenSSL has no MD5 or SHA-256\n");
		return 1;
	}
	int rc = generator_run(&cfg);
	digest_fini();
	return rc;
}
