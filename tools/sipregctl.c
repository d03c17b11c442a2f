/*
 * sipregctl - the operator's CLI for sipreg-control's admin socket.
 *
 * Every subcommand builds one admin request (README.md "Operating
 * sipreg"), prints the answer as an aligned table (default), the daemon's
 * JSON (--json) or RFC 4180 CSV (--csv).  Exit status: 0 ok, 1 the daemon
 * answered an error, 2 usage, 3 the control socket cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXIT_DAEMON 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define IMPORT_CHUNK_BYTES (512u * 1024)   /* below the daemon's 1 MiB line limit */

enum out_mode { OUT_TABLE, OUT_JSON, OUT_CSV };

static enum out_mode out_mode = OUT_TABLE;
static const char *socket_path;
static int sock = -1;
static char *rbuf;
static size_t rlen, rcap, rpos;

/* --- connection --- */

static void connect_or_exit(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (sock >= 0)
		return;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sipregctl: socket path too long: %s\n", socket_path);
		exit(EXIT_USAGE);
	}
	strcpy(sa.sun_path, socket_path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "sipregctl: cannot reach the control socket %s: %s\n"
			"sipregctl: sipreg-control must be running (set the path with --socket, "
			"--state-dir or SIPREG_CONTROL_SOCKET)\n", socket_path, strerror(errno));
		exit(EXIT_UNREACHABLE);
	}
}

static void send_line(const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(sock, s, n, MSG_NOSIGNAL);

		if (w <= 0) {
			fprintf(stderr, "sipregctl: %s: send: %s\n", socket_path, strerror(errno));
			exit(EXIT_UNREACHABLE);
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Next line from the socket (without "\n"), valid until the next call. */
static char *read_line(size_t *len)
{
	for (;;) {
		char *nl = rlen > rpos ? memchr(rbuf + rpos, '\n', rlen - rpos) : NULL;

		if (nl) {
			char *line = rbuf + rpos;

			*len = (size_t)(nl - line);
			*nl = '\0';
			rpos += *len + 1;
			return line;
		}
		if (rpos) {
			memmove(rbuf, rbuf + rpos, rlen - rpos);
			rlen -= rpos;
			rpos = 0;
		}
		if (rcap - rlen < 65536) {
			rcap = rcap ? rcap * 2 : 1 << 20;
			rbuf = realloc(rbuf, rcap);
			if (!rbuf) {
				fprintf(stderr, "sipregctl: out of memory\n");
				exit(EXIT_DAEMON);
			}
		}
		ssize_t r = recv(sock, rbuf + rlen, rcap - rlen - 1, 0);
		if (r <= 0) {
			fprintf(stderr, "sipregctl: %s: the daemon closed the connection\n",
				socket_path);
			exit(EXIT_UNREACHABLE);
		}
		rlen += (size_t)r;
	}
}

static json_t *read_answer(void)
{
	size_t n;
	char *line = read_line(&n);
	json_error_t jerr;
	json_t *ans = json_loadb(line, n, 0, &jerr);

	if (!json_is_object(ans)) {
		fprintf(stderr, "sipregctl: the daemon answered something that is not JSON: %.80s\n",
			line);
		exit(EXIT_DAEMON);
	}
	return ans;
}

static const char *who_am_i(void)
{
	const char *u = getenv("SUDO_USER");

	if (!u || !*u)
		u = getenv("USER");
	if (!u || !*u)
		u = getlogin();
	return u ? u : "";
}

/* Sends req (stolen); returns the answer; exits 1 when it is an error. */
static json_t *call(json_t *req)
{
	char *s;
	json_t *ans;

	connect_or_exit();
	if (!json_object_get(req, "by") && who_am_i()[0])
		json_object_set_new(req, "by", json_string(who_am_i()));
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!s) {
		fprintf(stderr, "sipregctl: out of memory\n");
		exit(EXIT_DAEMON);
	}
	send_line(s, strlen(s));
	send_line("\n", 1);
	free(s);
	ans = read_answer();
	if (!json_is_true(json_object_get(ans, "ok"))) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		if (out_mode == OUT_JSON) {
			char *d = json_dumps(ans, JSON_COMPACT);
			puts(d ? d : "");
			free(d);
		}
		fprintf(stderr, "sipregctl: %s\n", e ? e : "error");
		exit(EXIT_DAEMON);
	}
	return ans;
}

/* --- output --- */

static void print_json(const json_t *ans)
{
	char *s = json_dumps(ans, JSON_COMPACT);

	puts(s ? s : "{}");
	free(s);
}

static bool is_time_column(const char *col)
{
	size_t n = strlen(col);

	return strcmp(col, "at") == 0 || (n > 3 && strcmp(col + n - 3, "_at") == 0);
}

/* A cell as text (malloc'd). */
static char *cell(const json_t *v, const char *col)
{
	char buf[64];

	if (!v || json_is_null(v))
		return strdup(out_mode == OUT_CSV ? "" : "-");
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "yes" : "no");
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (is_time_column(col) && i > 0) {
			time_t t = (time_t)i;
			struct tm tm;

			gmtime_r(&t, &tm);
			strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		} else {
			snprintf(buf, sizeof(buf), "%lld", (long long)i);
		}
		return strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%.2f", json_real_value(v));
		return strdup(buf);
	}
	if (json_is_array(v)) {
		size_t i, n = 0;
		const json_t *e;
		char *out = calloc(1, 1);

		json_array_foreach(v, i, e) {
			char *c = cell(e, "");
			char *grown = realloc(out, n + strlen(c) + 2);

			if (!grown) {
				free(c);
				break;
			}
			out = grown;
			n += (size_t)sprintf(out + n, "%s%s", i ? " " : "", c);
			free(c);
		}
		return out;
	}
	char *d = json_dumps(v, JSON_COMPACT);
	return d ? d : strdup("?");
}

static void csv_field(FILE *f, const char *s)
{
	size_t n = strlen(s);
	bool quote = n && (s[0] == ' ' || s[n - 1] == ' ');

	for (const char *p = s; *p && !quote; p++)
		if (*p == ',' || *p == '"' || *p == '\r' || *p == '\n')
			quote = true;
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

/* rows: array of objects; cols: names, NULL-terminated. */
static void print_rows(const json_t *rows, const char *const *cols)
{
	size_t ncols = 0, nrows = json_array_size(rows);

	while (cols[ncols])
		ncols++;
	if (out_mode == OUT_CSV) {
		for (size_t c = 0; c < ncols; c++) {
			if (c)
				putchar(',');
			csv_field(stdout, cols[c]);
		}
		putchar('\n');
		for (size_t r = 0; r < nrows; r++) {
			for (size_t c = 0; c < ncols; c++) {
				char *s = cell(json_object_get(json_array_get(rows, r), cols[c]), cols[c]);

				if (c)
					putchar(',');
				csv_field(stdout, s);
				free(s);
			}
			putchar('\n');
		}
		return;
	}
	size_t *w = calloc(ncols, sizeof(*w));
	char **cells = calloc(nrows * ncols + 1, sizeof(*cells));
	if (!w || !cells) {
		fprintf(stderr, "sipregctl: out of memory\n");
		exit(EXIT_DAEMON);
	}
	for (size_t c = 0; c < ncols; c++)
		w[c] = strlen(cols[c]);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			char *s = cell(json_object_get(json_array_get(rows, r), cols[c]), cols[c]);

			cells[r * ncols + c] = s;
			if (strlen(s) > w[c])
				w[c] = strlen(s);
		}
	for (size_t c = 0; c < ncols; c++)
		printf("%-*s%s", c + 1 < ncols ? (int)w[c] : 0, cols[c], c + 1 < ncols ? "  " : "\n");
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			printf("%-*s%s", c + 1 < ncols ? (int)w[c] : 0, cells[r * ncols + c],
			       c + 1 < ncols ? "  " : "\n");
			free(cells[r * ncols + c]);
		}
	free(cells);
	free(w);
}

/* key/value pairs of an object as a two-column table */
static void print_object(const json_t *o)
{
	json_t *rows = json_array();
	const char *k;
	json_t *v;
	static const char *const cols[] = { "name", "value", NULL };

	json_object_foreach((json_t *)o, k, v)
		json_array_append_new(rows, json_pack("{sssO}", "name", k, "value", v));
	print_rows(rows, cols);
	json_decref(rows);
}

/* --- option helpers --- */

static long long number_arg(const char *opt, const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "sipregctl: %s: '%s' is not a whole number >= 0\n", opt, s);
		exit(EXIT_USAGE);
	}
	return v;
}

/* "2026-11-26T15:00:00Z", "2026-11-26 15:00", "-1h", "-30m", "-2d", or Unix seconds */
static long long time_arg(const char *opt, const char *s)
{
	struct tm tm = { 0 };
	char *end;

	if (s[0] == '-' && s[1]) {
		long long n = strtoll(s + 1, &end, 10);
		long long unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600
			       : *end == 'd' ? 86400 : 0;

		if (end != s + 1 && unit && end[1] == '\0')
			return (long long)time(NULL) - n * unit;
	} else if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) != NULL ||
		   (end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) != NULL ||
		   (end = strptime(s, "%Y-%m-%d %H:%M", &tm)) != NULL ||
		   (end = strptime(s, "%Y-%m-%d", &tm)) != NULL) {
		if (*end == 'Z')
			end++;
		if (*end == '\0')
			return (long long)timegm(&tm);
	} else if (s[0] && strspn(s, "0123456789") == strlen(s)) {
		return number_arg(opt, s);
	}
	fprintf(stderr, "sipregctl: %s: '%s' is not a time (2026-11-26T15:00:00Z, "
		"\"2026-11-26 15:00\", -1h, -30m, -2d or Unix seconds)\n", opt, s);
	exit(EXIT_USAGE);
}

static bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

#define FILTER_OPTIONS                                          \
	{ "aor", required_argument, NULL, 'a' },                \
	{ "aor-prefix", required_argument, NULL, 'p' },         \
	{ "number", required_argument, NULL, 'n' },             \
	{ "number-prefix", required_argument, NULL, 'N' },      \
	{ "ip", required_argument, NULL, 'i' },                 \
	{ "account", required_argument, NULL, 'A' },            \
	{ "status", required_argument, NULL, 's' },             \
	{ "ua", required_argument, NULL, 'u' }

#define FILTER_HELP                                                                       \
	"  --aor AOR            exact AOR (sip:1001@sipreg.test)\n"                        \
	"  --aor-prefix P       AOR prefix (sip:10)\n"                                     \
	"  --number N           the AOR's user part (1001 matches sip:1001@any domain)\n"  \
	"  --number-prefix P    user part prefix (10)\n"                                    \
	"  --ip IP              source IP: 198.18.0.2, 198.18.0.0/24, 192.168.1.x, 2001:db8::/64\n" \
	"  --account NAME       account name\n"                                            \
	"  --status S[,S]       registered, expiring, expired, unregistered (from history)\n" \
	"  --ua TEXT            user agent contains TEXT\n"

static bool filter_option(int opt, const char *arg, json_t *req)
{
	static const struct { int opt; const char *field; } map[] = {
		{ 'a', "aor" }, { 'p', "aor_prefix" }, { 'n', "number" }, { 'N', "number_prefix" }, { 'i', "ip" }, { 'A', "account" },
		{ 's', "status" }, { 'u', "user_agent" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].opt == opt) {
			json_object_set_new(req, map[i].field, json_string(arg));
			return true;
		}
	return false;
}

static const char *const list_columns[] = {
	"aor", "contact", "received", "transport", "expires_in_s", "account", "user_agent",
	"registered_at", "refreshed_at", "status", "nat", NULL,
};

/* --- subcommands --- */

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		FILTER_OPTIONS,
		{ "sort", required_argument, NULL, 'S' },
		{ "desc", no_argument, NULL, 'd' },
		{ "offset", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "count", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req = json_pack("{ss}", "cmd", "list"), *ans;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (filter_option(opt, optarg, req))
			continue;
		switch (opt) {
		case 'S': json_object_set_new(req, "sort", json_string(optarg)); break;
		case 'd': json_object_set_new(req, "desc", json_true()); break;
		case 'o': json_object_set_new(req, "offset", json_integer(number_arg("--offset", optarg))); break;
		case 'l': json_object_set_new(req, "limit", json_integer(number_arg("--limit", optarg))); break;
		case 'c': json_object_set_new(req, "count", json_true()); break;
		case 'h':
			printf("usage: sipregctl list [filters] [--sort COLUMN] [--desc] [--offset N] "
			       "[--limit N] [--count]\n"
			       "Registrations matching every filter given, one page (default 100 rows).\n"
			       FILTER_HELP
			       "  --sort COLUMN        aor contact received transport expires_in_s account\n"
			       "                       user_agent registered_at refreshed_at status nat\n"
			       "  --count              print only the number of matches\n");
			json_decref(req);
			return 0;
		default: json_decref(req); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sipregctl list: unexpected argument '%s' (see --help)\n", argv[optind]);
		json_decref(req);
		return EXIT_USAGE;
	}
	ans = call(req);
	if (out_mode == OUT_JSON)
		print_json(ans);
	else if (json_is_true(json_object_get(ans, "count")) || !json_object_get(ans, "rows"))
		printf("%lld\n", (long long)json_integer_value(json_object_get(ans, "total")));
	else {
		print_rows(json_object_get(ans, "rows"), list_columns);
		if (out_mode == OUT_TABLE)
			printf("(%zu of %lld)\n", json_array_size(json_object_get(ans, "rows")),
			       (long long)json_integer_value(json_object_get(ans, "total")));
	}
	json_decref(ans);
	return 0;
}

static const char *const history_columns[] = {
	"at", "event", "aor", "contact", "received", "user_agent", "reason", "action", "username", "who",
	NULL,
};

static int cmd_show(int argc, char **argv)
{
	static const char *const cols[] = {
		"contact", "binding_key", "received", "transport", "expires_in_s", "expires_at",
		"expires_s", "status", "nat", "account", "user_agent", "registered_at",
		"refreshed_at", "cseq", "call_id", "path", "instance", "reg_id", "q", NULL,
	};
	json_t *ans;

	if (want_help(argc, argv) || argc != 2) {
		printf("usage: sipregctl show AOR\n"
		       "Every binding of AOR with every stored field, and its last 20 history events.\n");
		return want_help(argc, argv) ? 0 : EXIT_USAGE;
	}
	ans = call(json_pack("{ssss}", "cmd", "show", "aor", argv[1]));
	if (out_mode == OUT_JSON) {
		print_json(ans);
	} else if (out_mode == OUT_CSV) {
		print_rows(json_object_get(ans, "bindings"), cols);
	} else {
		size_t i;
		json_t *b;

		printf("%s: %zu binding(s)\n", argv[1], json_array_size(json_object_get(ans, "bindings")));
		json_array_foreach(json_object_get(ans, "bindings"), i, b) {
			printf("\n");
			for (size_t c = 0; cols[c]; c++) {
				char *s = cell(json_object_get(b, cols[c]), cols[c]);
				printf("  %-14s %s\n", cols[c], s);
				free(s);
			}
		}
		printf("\nhistory (newest first):\n");
		print_rows(json_object_get(ans, "events"), history_columns);
	}
	json_decref(ans);
	return 0;
}

static int cmd_kick(int argc, char **argv)
{
	json_t *req, *ans;

	if (want_help(argc, argv) || argc < 2 || argc > 3) {
		printf("usage: sipregctl kick AOR [BINDING_KEY]\n"
		       "Force-unregisters every binding of AOR, or the one with BINDING_KEY (the\n"
		       "contact URI, or +sip.instance=...;reg-id=N; see `sipregctl show AOR`).\n"
		       "Recorded in history as force-unregistered, with who asked.\n");
		return want_help(argc, argv) ? 0 : EXIT_USAGE;
	}
	req = json_pack("{ssss}", "cmd", "kick", "aor", argv[1]);
	if (argc == 3)
		json_object_set_new(req, "binding_key", json_string(argv[2]));
	ans = call(req);
	if (out_mode == OUT_JSON)
		print_json(ans);
	else if (out_mode == OUT_CSV)
		printf("removed\n%lld\n", (long long)json_integer_value(json_object_get(ans, "removed")));
	else
		printf("removed %lld binding(s) of %s\n",
		       (long long)json_integer_value(json_object_get(ans, "removed")), argv[1]);
	json_decref(ans);
	return 0;
}

/* block | unblock | allow | disallow CIDR [--duration S] */
static int cmd_access(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long duration = -1;
	int opt;

	while ((opt = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': duration = number_arg("--duration", optarg); break;
		case 'h':
			printf("usage: sipregctl %s CIDR%s\n"
			       "%s\n"
			       "CIDR: an IPv4/IPv6 address or prefix (198.18.1.7, 198.18.1.0/24, 2001:db8::/64).\n"
			       "Recorded in history with who asked.\n",
			       argv[0], strcmp(argv[0], "block") ? "" : " [--duration SECONDS]",
			       !strcmp(argv[0], "block") ? "Drops SIP from CIDR in XDP (no duration: until unblocked)." :
			       !strcmp(argv[0], "unblock") ? "Removes a manual block or a lockout." :
			       !strcmp(argv[0], "allow") ? "Allowlist: never locked out, never rate limited (trunks)." :
							   "Removes CIDR from the allowlist.");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (duration >= 0 && strcmp(argv[0], "block") != 0)) {
		fprintf(stderr, "sipregctl: usage: sipregctl %s CIDR%s (see --help)\n", argv[0],
			strcmp(argv[0], "block") ? "" : " [--duration SECONDS]");
		return EXIT_USAGE;
	}
	json_t *req = json_pack("{ssss}", "cmd", argv[0], "cidr", argv[optind]);
	if (duration >= 0)
		json_object_set_new(req, "duration_s", json_integer(duration));
	json_t *ans = call(req);
	if (out_mode == OUT_JSON)
		print_json(ans);
	else if (out_mode == OUT_CSV)
		printf("ok\ntrue\n");
	else
		printf("%s %s: done\n", argv[0], argv[optind]);
	json_decref(ans);
	return 0;
}

/* blocks | allowlist | drops */
static int cmd_protection_list(int argc, char **argv)
{
	if (want_help(argc, argv) || argc != 1) {
		printf("usage: sipregctl %s\n%s\n", argv[0],
		       !strcmp(argv[0], "blocks") ? "Blocked and locked-out sources: cidr, reason (manual, lockout), "
						    "remaining seconds (-1: until unblocked)." :
		       !strcmp(argv[0], "allowlist") ? "Allowlisted sources." :
						      "Drops by reason: the XDP prefilter's and the dataplane's.");
		return want_help(argc, argv) ? 0 : EXIT_USAGE;
	}
	bool drops = strcmp(argv[0], "drops") == 0;
	json_t *ans = call(json_pack("{ss}", "cmd", drops ? "xdp_counters" : argv[0]));
	if (out_mode == OUT_JSON) {
		print_json(ans);
	} else if (!strcmp(argv[0], "blocks")) {
		static const char *const cols[] = { "cidr", "reason", "blocked_at", "remaining_s", NULL };
		print_rows(json_object_get(ans, "blocks"), cols);
	} else if (!strcmp(argv[0], "allowlist")) {
		static const char *const cols[] = { "cidr", NULL };
		json_t *rows = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(ans, "allow"), i, v)
			json_array_append_new(rows, json_pack("{sO}", "cidr", v));
		print_rows(rows, cols);
		json_decref(rows);
	} else {
		json_t *all = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(ans, "counters"), k, v)
			if (!strncmp(k, "drop_", 5))
				json_object_set(all, k[5] ? k : "?", v);
		json_decref(ans);
		ans = call(json_pack("{ss}", "cmd", "stats"));
		json_object_foreach(json_object_get(ans, "drops"), k, v) {
			char name[96];
			snprintf(name, sizeof(name), "dataplane_%s", k);
			json_object_set(all, name, v);
		}
		print_object(all);
		json_decref(all);
	}
	json_decref(ans);
	return 0;
}

static int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		FILTER_OPTIONS,
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req = json_pack("{ss}", "cmd", "export"), *ans;
	const char *format = out_mode == OUT_JSON ? "json" : "csv", *path = NULL;
	FILE *f = stdout;
	int opt;

	while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (filter_option(opt, optarg, req))
			continue;
		switch (opt) {
		case 'f': format = optarg; break;
		case 'o': path = optarg; break;
		case 'h':
			printf("usage: sipregctl export [filters] [--format csv|json] [-o FILE]\n"
			       "Streams every live registration matching the filters, in AOR order:\n"
			       "CSV (RFC 4180, header line, times ISO-8601 UTC) or JSON lines (times\n"
			       "Unix seconds), to FILE or stdout.\n" FILTER_HELP);
			json_decref(req);
			return 0;
		default: json_decref(req); return EXIT_USAGE;
		}
	}
	if (optind != argc || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
		fprintf(stderr, "sipregctl export: --format must be csv or json; see --help\n");
		json_decref(req);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "format", json_string(format));
	ans = call(req);
	json_decref(ans);
	if (path && !(f = fopen(path, "w"))) {
		fprintf(stderr, "sipregctl export: %s: %s\n", path, strerror(errno));
		return EXIT_DAEMON;
	}
	for (;;) {
		size_t n;
		char *line = read_line(&n);

		if (n == 1 && line[0] == '.')
			break;
		line[n] = '\n';
		fwrite(line, 1, n + 1, f);
	}
	ans = read_answer();
	if (fflush(f) != 0 || (path && fclose(f) != 0)) {
		fprintf(stderr, "sipregctl export: %s: %s\n", path ? path : "stdout", strerror(errno));
		json_decref(ans);
		return EXIT_DAEMON;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		fprintf(stderr, "sipregctl export: %s\n",
			json_string_value(json_object_get(ans, "error")));
		json_decref(ans);
		return EXIT_DAEMON;
	}
	if (path)
		fprintf(stderr, "exported %lld rows to %s\n",
			(long long)json_integer_value(json_object_get(ans, "rows")), path);
	json_decref(ans);
	return 0;
}

static int cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "aor", required_argument, NULL, 'a' },
		{ "ip", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 'f' },
		{ "until", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req = json_pack("{ss}", "cmd", "history"), *types = NULL, *ans;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': json_object_set_new(req, "aor", json_string(optarg)); break;
		case 'i': json_object_set_new(req, "ip", json_string(optarg)); break;
		case 'f': json_object_set_new(req, "from", json_integer(time_arg("--since", optarg))); break;
		case 't': json_object_set_new(req, "to", json_integer(time_arg("--until", optarg))); break;
		case 'l': json_object_set_new(req, "limit", json_integer(number_arg("--limit", optarg))); break;
		case 'T': {
			char *copy = strdup(optarg), *save = NULL;

			if (!types)
				types = json_array();
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
				json_array_append_new(types, json_string(t));
			free(copy);
			break;
		}
		case 'h':
			printf("usage: sipregctl history [--aor AOR] [--ip IP] [--since T] [--until T]\n"
			       "                         [--type T[,T]] [--limit N]\n"
			       "Events newest first (default 100). T: 2026-11-26T15:00:00Z, -1h, -30m,\n"
			       "-2d or Unix seconds. Types: registered refreshed unregistered expired\n"
			       "kicked force-unregistered unreachable auth-failed locked-out admin.\n");
			json_decref(req);
			json_decref(types);
			return 0;
		default: json_decref(req); json_decref(types); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sipregctl history: unexpected argument '%s'\n", argv[optind]);
		json_decref(req);
		json_decref(types);
		return EXIT_USAGE;
	}
	if (types)
		json_object_set_new(req, "types", types);
	ans = call(req);
	if (out_mode == OUT_JSON)
		print_json(ans);
	else
		print_rows(json_object_get(ans, "events"), history_columns);
	json_decref(ans);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	static const char *const worker_cols[] = {
		"worker", "rx_packets", "rx_register", "reply_200", "reply_401", "reply_403",
		"auth_failed", "tx_packets", "tx_failed", NULL,
	};
	json_t *ans, *v;
	const char *k;

	if (want_help(argc, argv) || argc != 1) {
		printf("usage: sipregctl stats\n"
		       "Active registrations, registrations/s, auth failures/s, drops by reason,\n"
		       "per-worker counters (all of them with --json).\n");
		return want_help(argc, argv) ? 0 : EXIT_USAGE;
	}
	ans = call(json_pack("{ss}", "cmd", "stats"));
	if (out_mode == OUT_JSON) {
		print_json(ans);
		json_decref(ans);
		return 0;
	}
	json_t *summary = json_object();
	json_t *dp = json_object_get(ans, "dataplane"), *rates = json_object_get(ans, "rates");
	json_object_set(summary, "active_registrations", json_object_get(ans, "active_registrations"));
	json_object_foreach(rates, k, v)
		json_object_set(summary, k, v);
	json_object_foreach(dp, k, v) {
		char name[64];
		snprintf(name, sizeof(name), "dataplane_%s", k);
		json_object_set(summary, name, v);
	}
	json_object_foreach(json_object_get(ans, "drops"), k, v) {
		char name[64];
		if (json_integer_value(v) == 0)
			continue;
		snprintf(name, sizeof(name), "drop_%s", k);
		json_object_set(summary, name, v);
	}
	json_object_set(summary, "processing_time_p50_us",
			json_object_get(json_object_get(ans, "processing_time"), "p50_us"));
	json_object_set(summary, "processing_time_p99_us",
			json_object_get(json_object_get(ans, "processing_time"), "p99_us"));
	print_object(summary);
	json_decref(summary);
	if (out_mode == OUT_TABLE)
		printf("\n");
	print_rows(json_object_get(ans, "workers"), worker_cols);
	json_decref(ans);
	return 0;
}

static int account_fields(int argc, char **argv, json_t *req, const char *usage_line)
{
	static const struct option opts[] = {
		{ "password", required_argument, NULL, 'P' },
		{ "ha1-md5", required_argument, NULL, 'm' },
		{ "ha1-sha256", required_argument, NULL, 'S' },
		{ "account", required_argument, NULL, 'A' },
		{ "auth-mode", required_argument, NULL, 'M' },
		{ "cidr", required_argument, NULL, 'c' },
		{ "max-bindings", required_argument, NULL, 'b' },
		{ "min-expires", required_argument, NULL, 'n' },
		{ "max-expires", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *cidrs = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'P': json_object_set_new(req, "password", json_string(optarg)); break;
		case 'm': json_object_set_new(req, "ha1_md5", json_string(optarg)); break;
		case 'S': json_object_set_new(req, "ha1_sha256", json_string(optarg)); break;
		case 'A': json_object_set_new(req, "account", json_string(optarg)); break;
		case 'M': json_object_set_new(req, "auth_mode", json_string(optarg)); break;
		case 'c':
			if (!cidrs)
				cidrs = json_array();
			json_array_append_new(cidrs, json_string(optarg));
			break;
		case 'b': json_object_set_new(req, "max_bindings", json_integer(number_arg("--max-bindings", optarg))); break;
		case 'n': json_object_set_new(req, "min_expires_s", json_integer(number_arg("--min-expires", optarg))); break;
		case 'x': json_object_set_new(req, "max_expires_s", json_integer(number_arg("--max-expires", optarg))); break;
		case 'h':
			printf("usage: %s\n"
			       "  --password P         stored only as HA1 (MD5 and SHA-256)\n"
			       "  --ha1-md5 H --ha1-sha256 H   precomputed HA1s instead\n"
			       "  --account NAME       billing/customer name (default: the username)\n"
			       "  --auth-mode M        digest, ip, ip+port, ip+digest\n"
			       "  --cidr C             allowed source (repeat): 198.18.0.0/24, 198.18.0.5:5060\n"
			       "  --max-bindings N --min-expires S --max-expires S   0: the global policy\n"
			       "The dataplane reloads accounts at once (no restart).\n", usage_line);
			json_decref(cidrs);
			return -1;
		default: json_decref(cidrs); return EXIT_USAGE;
		}
	}
	if (cidrs)
		json_object_set_new(req, "cidrs", cidrs);
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s (see --help)\n", usage_line);
		return EXIT_USAGE;
	}
	json_object_set_new(req, "username", json_string(argv[optind]));
	return 0;
}

static void print_dataplane_note(const json_t *ans)
{
	const char *dp = json_string_value(json_object_get(ans, "dataplane"));

	if (dp && out_mode == OUT_TABLE)
		printf("dataplane: %s\n", dp);
}

static int cmd_accounts_import(int argc, char **argv)
{
	FILE *f;
	char *buf;
	size_t len = 0, cap = IMPORT_CHUNK_BYTES + 65536;
	long long imported = 0, rows = 0;
	char line[65536];

	if (want_help(argc, argv) || argc != 2) {
		printf("usage: sipregctl accounts import FILE.csv\n"
		       "Columns: username, secret, account, auth_mode, cidrs, max_bindings,\n"
		       "min_expires, max_expires (a first row starting with 'username' is a header).\n"
		       "secret: a password (stored as HA1 only) or ha1:<md5>:<sha256>.\n");
		return want_help(argc, argv) ? 0 : EXIT_USAGE;
	}
	f = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "sipregctl accounts import: %s: %s\n", argv[1], strerror(errno));
		return EXIT_USAGE;
	}
	buf = malloc(cap);
	for (bool eof = false; !eof;) {
		len = 0;
		while (len < IMPORT_CHUNK_BYTES) {
			if (!fgets(line, sizeof(line), f)) {
				eof = true;
				break;
			}
			size_t n = strlen(line);
			memcpy(buf + len, line, n);
			len += n;
		}
		if (len == 0)
			break;
		json_t *ans = call(json_pack("{sssosb}", "cmd", "accounts_import", "csv",
					     json_stringn(buf, len), "reload", 0));
		imported += json_integer_value(json_object_get(ans, "imported"));
		rows += json_integer_value(json_object_get(ans, "rows"));
		json_decref(ans);
	}
	free(buf);
	if (f != stdin)
		fclose(f);
	json_t *ans = call(json_pack("{ss}", "cmd", "accounts_reload"));
	if (out_mode == OUT_JSON) {
		json_object_set_new(ans, "imported", json_integer(imported));
		json_object_set_new(ans, "rows", json_integer(rows));
		print_json(ans);
	} else {
		printf("imported %lld of %lld rows\n", imported, rows);
		print_dataplane_note(ans);
	}
	json_decref(ans);
	return 0;
}

static int cmd_accounts(int argc, char **argv)
{
	static const char *const cols[] = {
		"username", "account", "auth_mode", "cidrs", "max_bindings", "min_expires_s",
		"max_expires_s", "realm", NULL,
	};
	const char *sub = argc > 1 ? argv[1] : "";
	json_t *req, *ans;
	int rc;

	if (strcmp(sub, "list") == 0) {
		static const struct option opts[] = {
			{ "prefix", required_argument, NULL, 'p' },
			{ "offset", required_argument, NULL, 'o' },
			{ "limit", required_argument, NULL, 'l' },
			{ "help", no_argument, NULL, 'h' },
			{ NULL, 0, NULL, 0 },
		};
		int opt;

		req = json_pack("{ss}", "cmd", "accounts_list");
		while ((opt = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
			switch (opt) {
			case 'p': json_object_set_new(req, "prefix", json_string(optarg)); break;
			case 'o': json_object_set_new(req, "offset", json_integer(number_arg("--offset", optarg))); break;
			case 'l': json_object_set_new(req, "limit", json_integer(number_arg("--limit", optarg))); break;
			case 'h':
				printf("usage: sipregctl accounts list [--prefix P] [--offset N] [--limit N]\n");
				json_decref(req);
				return 0;
			default: json_decref(req); return EXIT_USAGE;
			}
		}
		ans = call(req);
		if (out_mode == OUT_JSON)
			print_json(ans);
		else
			print_rows(json_object_get(ans, "rows"), cols);
		json_decref(ans);
		return 0;
	}
	if (strcmp(sub, "add") == 0 || strcmp(sub, "update") == 0) {
		bool add = strcmp(sub, "add") == 0;

		req = json_pack("{ss}", "cmd", add ? "account_add" : "account_update");
		rc = account_fields(argc - 1, argv + 1, req,
				    add ? "sipregctl accounts add USERNAME [options]"
					: "sipregctl accounts update USERNAME [options]");
		if (rc != 0) {
			json_decref(req);
			return rc < 0 ? 0 : rc;
		}
		ans = call(req);
		if (out_mode == OUT_JSON) {
			print_json(ans);
		} else {
			json_t *rows = json_pack("[O]", json_object_get(ans, "account"));
			print_rows(rows, cols);
			json_decref(rows);
			print_dataplane_note(ans);
		}
		json_decref(ans);
		return 0;
	}
	if (strcmp(sub, "remove") == 0) {
		if (want_help(argc - 1, argv + 1) || argc != 3) {
			printf("usage: sipregctl accounts remove USERNAME\n");
			return want_help(argc - 1, argv + 1) ? 0 : EXIT_USAGE;
		}
		ans = call(json_pack("{ssss}", "cmd", "account_remove", "username", argv[2]));
		if (out_mode == OUT_JSON)
			print_json(ans);
		else {
			printf("removed %s\n", argv[2]);
			print_dataplane_note(ans);
		}
		json_decref(ans);
		return 0;
	}
	if (strcmp(sub, "import") == 0)
		return cmd_accounts_import(argc - 1, argv + 1);
	if (strcmp(sub, "reload") == 0) {
		if (want_help(argc - 1, argv + 1)) {
			printf("usage: sipregctl accounts reload\nTells the dataplane to reload accounts.\n");
			return 0;
		}
		ans = call(json_pack("{ss}", "cmd", "accounts_reload"));
		if (out_mode == OUT_JSON)
			print_json(ans);
		else
			print_dataplane_note(ans);
		json_decref(ans);
		return 0;
	}
	printf("usage: sipregctl accounts list|add|update|remove|import|reload ... (--help on each)\n");
	return strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ? 0 : EXIT_USAGE;
}

static int cmd_policy(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	json_t *ans;

	if (strcmp(sub, "get") == 0 && argc == 2) {
		ans = call(json_pack("{ss}", "cmd", "policy_get"));
		if (out_mode == OUT_JSON)
			print_json(ans);
		else
			print_object(json_object_get(ans, "policy"));
		json_decref(ans);
		return 0;
	}
	if (strcmp(sub, "set") == 0 && argc > 2 && !want_help(argc - 1, argv + 1)) {
		json_t *set = json_object();

		for (int i = 2; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			char *end;
			long long v;

			if (!eq || eq == argv[i]) {
				fprintf(stderr, "sipregctl policy set: '%s' is not NAME=VALUE\n", argv[i]);
				json_decref(set);
				return EXIT_USAGE;
			}
			*eq = '\0';
			errno = 0;
			v = strtoll(eq + 1, &end, 10);
			json_object_set_new(set, argv[i], !errno && end != eq + 1 && *end == '\0'
						? json_integer(v) : json_string(eq + 1));
		}
		ans = call(json_pack("{ssso}", "cmd", "policy_set", "set", set));
		if (out_mode == OUT_JSON) {
			print_json(ans);
		} else {
			const char *k;
			json_t *v;

			json_object_foreach(json_object_get(ans, "changes"), k, v) {
				char *o = cell(json_object_get(v, "old"), ""), *n = cell(json_object_get(v, "new"), "");
				printf("%s: %s -> %s\n", k, o, n);
				free(o);
				free(n);
			}
			printf("%s\n", json_string_value(json_object_get(ans, "applied")));
		}
		json_decref(ans);
		return 0;
	}
	printf("usage: sipregctl policy get\n"
	       "       sipregctl policy set NAME=VALUE...\n"
	       "Parameters: register_replace (on|off), max_bindings, default_expires_s,\n"
	       "min_expires_s, max_expires_s, expiring_window_s, nat_keepalive_s,\n"
	       "nat_keepalive_misses, nat_max_expires_s, lockout_failures, lockout_window_s,\n"
	       "lockout_duration_s, rate_per_ip, rate_global, respond_unknown (challenge|drop).\n"
	       "A set is validated, stored, recorded in history and sent to the dataplane.\n");
	return want_help(argc, argv) ? 0 : EXIT_USAGE;
}

static int cmd_raw(int argc, char **argv)
{
	json_error_t jerr;
	json_t *req, *ans;

	if (want_help(argc, argv) || argc != 2) {
		printf("usage: sipregctl raw '{\"cmd\":\"ping\"}'\nSends one request, prints the answer.\n");
		return want_help(argc, argv) ? 0 : EXIT_USAGE;
	}
	req = json_loads(argv[1], 0, &jerr);
	if (!json_is_object(req)) {
		fprintf(stderr, "sipregctl raw: not a JSON object: %s\n", jerr.text);
		json_decref(req);
		return EXIT_USAGE;
	}
	ans = call(req);
	print_json(ans);
	json_decref(ans);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipregctl [--socket PATH | --state-dir DIR] [--json | --csv] COMMAND ...\n"
		"commands (COMMAND --help for each):\n"
		"  list       registrations, filtered, sorted, paged\n"
		"  show       one AOR: every binding, every field, last 20 events\n"
		"  kick       force-unregister an AOR or one binding\n"
		"  export     stream the filtered list as CSV or JSON lines\n"
		"  history    events of an AOR or IP over a time range\n"
		"  stats      registrations, rates, drops, per-worker counters\n"
		"  accounts   list | add | update | remove | import | reload\n"
		"  policy     get | set NAME=VALUE...\n"
		"  block      block a source address or prefix (XDP), --duration S\n"
		"  unblock    remove a block or a lockout\n"
		"  allow      allowlist a source (never locked out or rate limited)\n"
		"  disallow   remove from the allowlist\n"
		"  blocks     blocked and locked-out sources with reason and time left\n"
		"  allowlist  allowlisted sources\n"
		"  drops      drop counters by reason (XDP and dataplane)\n"
		"  raw        send one JSON request\n"
		"socket: --socket, else $SIPREG_CONTROL_SOCKET, else <state-dir>/control.sock\n"
		"        (state dir default /var/lib/sipreg)\n"
		"exit status: 0 ok, 1 the daemon answered an error, 2 usage, 3 control socket "
		"unreachable\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char path_buf[PATH_MAX];
	const char *state_dir = NULL;
	int opt;

	socket_path = getenv("SIPREG_CONTROL_SOCKET");
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'S': socket_path = optarg; break;
		case 's': state_dir = optarg; break;
		case 'j': out_mode = OUT_JSON; break;
		case 'c': out_mode = OUT_CSV; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (state_dir || !socket_path || !*socket_path) {
		snprintf(path_buf, sizeof(path_buf), "%s/control.sock",
			 state_dir ? state_dir : "/var/lib/sipreg");
		socket_path = path_buf;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
		{ "list", cmd_list }, { "show", cmd_show }, { "kick", cmd_kick },
		{ "export", cmd_export }, { "history", cmd_history }, { "stats", cmd_stats },
		{ "accounts", cmd_accounts }, { "policy", cmd_policy }, { "raw", cmd_raw },
		{ "block", cmd_access }, { "unblock", cmd_access }, { "allow", cmd_access },
		{ "disallow", cmd_access }, { "blocks", cmd_protection_list },
		{ "allowlist", cmd_protection_list }, { "drops", cmd_protection_list },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;

			optind = 0;   /* glibc: 0 re-initialises getopt for the subcommand */
			return cmds[i].fn(sub_argc, sub_argv);
		}
	fprintf(stderr, "sipregctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
