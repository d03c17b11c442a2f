/*
 * bench_control - sipreg-control query speed over a large bindings env
 * (issue 6 item 5): first page of a CIDR-filtered list, and a full CSV
 * export, through admin_handle_line() in-process (the daemon's exact code
 * path minus the socket write), then the same through the admin socket
 * (server_run in a thread, this thread the client reading everything).
 *
 * Populates <dir>/bindings with N records in the store's layout
 * (lmdb_records.h): AOR sip:<7 digits>@sipreg.test, one binding each,
 * source 10.x.y.z spread over 10.0.0.0/8 so 10.7.0.0/16 holds N/256 rows.
 * Last line: {"list_page_ms":..,"export_rows_per_s":..,...}.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "admin.h"
#include "checkpoint.h"
#include "lmdb_records.h"
#include "server.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void put_string(struct store_binding_data *b, enum store_string s, const char *v, size_t *off)
{
	size_t n = strlen(v);

	memcpy(b->str + *off, v, n);
	b->str_len[s] = (uint16_t)n;
	*off += n;
}

static int populate(const char *dir, uint32_t n)
{
	struct store_lmdb_config cfg = { .state_dir = dir, .no_sync = true, .write_map = true };
	struct store_lmdb *l;
	MDB_txn *txn;
	int64_t now = (int64_t)time(NULL);
	int rc;

	rc = store_lmdb_open(&cfg, &l);
	if (rc != 0) {
		fprintf(stderr, "bench_control: store_lmdb_open %s: %d\n", dir, rc);
		return -1;
	}
	rc = mdb_txn_begin(store_lmdb_bindings_env(l), NULL, 0, &txn);
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		struct {
			struct store_binding_value_header h;
			struct store_binding_data b;
		} v;
		char aor[64], contact[96], ua[64], account[32], key[STORE_BINDING_KEY_MAX];
		size_t off = 0;
		uint32_t ip = (10u << 24) | ((i * 2654435761u) & 0xffffff);

		memset(&v, 0, sizeof(v));
		v.h.version = STORE_RECORD_VERSION;
		snprintf(aor, sizeof(aor), "sip:%07u@sipreg.test", i);
		snprintf(contact, sizeof(contact), "sip:%07u@%u.%u.%u.%u:5060;transport=udp", i,
			 ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
		snprintf(ua, sizeof(ua), "Phone-%u/1.%u", i % 7, i % 13);
		snprintf(account, sizeof(account), "cust%u", i % 100);
		v.b.registered_at_s = now - 600;
		v.b.refreshed_at_s = now - (i % 600);
		v.b.expires_s = 3600;
		v.b.expires_at_s = v.b.refreshed_at_s + 3600;
		v.b.cseq = i % 1000 + 1;
		v.b.source.family = AF_INET;
		v.b.source.port = 5060;
		uint32_t be = htonl(ip);
		memcpy(v.b.source.addr, &be, 4);
		put_string(&v.b, STORE_STR_AOR, aor, &off);
		put_string(&v.b, STORE_STR_CONTACT, contact, &off);
		put_string(&v.b, STORE_STR_CALL_ID, "bench-call-id@198.18.0.2", &off);
		put_string(&v.b, STORE_STR_USER_AGENT, ua, &off);
		put_string(&v.b, STORE_STR_ACCOUNT, account, &off);
		size_t kn = store_binding_lmdb_key_build(&v.b, key, sizeof(key));
		MDB_val k = { .mv_size = kn, .mv_data = key };
		MDB_val d = { .mv_size = sizeof(v.h) + store_binding_data_used_size(&v.b), .mv_data = &v };
		rc = mdb_put(txn, store_lmdb_bindings_dbi(l), &k, &d, MDB_APPEND);
	}
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	store_lmdb_close(l);
	if (rc != 0)
		fprintf(stderr, "bench_control: populate: %s\n", mdb_strerror(rc));
	return rc == 0 ? 0 : -1;
}

static double run_list(struct control *c, const char *req, uint64_t *bytes)
{
	struct outbuf out = { 0 };
	struct admin_stream st = { 0 };
	double t0 = now_ms();

	admin_handle_line(c, req, strlen(req), NULL, &out, &st);
	double t = now_ms() - t0;
	*bytes = out.len;
	if (out.len < 12 || strncmp(out.data, "{\"ok\":true", 10) != 0)
		fprintf(stderr, "bench_control: list failed: %.*s\n", (int)(out.len < 300 ? out.len : 300), out.data);
	outbuf_free(&out);
	return t;
}

/* --- the same through the admin socket: server thread + a client here --- */

static volatile sig_atomic_t server_stop;

struct server_arg {
	struct control *c;
	int lfd;
};

static void *server_thread(void *p)
{
	struct server_arg *a = p;

	server_run(a->c, a->lfd, &server_stop);
	return NULL;
}

/* Sends req; reads until the answer line (or, for an export, until the
 * trailer after the "." line).  Returns ms, *rows the export's rows. */
static double socket_request(const char *path, const char *req, bool stream, uint64_t *bytes)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[1 << 20];
	size_t tail = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	double t0 = now_ms();

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench_control: connect");
		exit(1);
	}
	if (send(fd, req, strlen(req), 0) < 0 || send(fd, "\n", 1, 0) < 0) {
		perror("bench_control: send");
		exit(1);
	}
	*bytes = 0;
	/* the end: a newline (list), or "\n.\n" then the trailer's newline */
	bool dot = false;
	for (;;) {
		ssize_t r = recv(fd, buf + tail, sizeof(buf) - tail, 0);

		if (r <= 0)
			break;
		*bytes += (uint64_t)r;
		size_t n = tail + (size_t)r;
		if (!stream) {
			if (memchr(buf + tail, '\n', (size_t)r))
				break;
		} else if (!dot) {
			char *d = memmem(buf, n, "\n.\n", 3);
			if (d) {
				dot = true;
				if (memchr(d + 3, '\n', (size_t)(buf + n - (d + 3))))
					break;
			}
		} else if (memchr(buf + tail, '\n', (size_t)r)) {
			break;
		}
		/* keep the last 3 bytes so a marker across reads is seen */
		if (n >= 3) {
			memmove(buf, buf + n - 3, 3);
			tail = 3;
		} else {
			tail = n;
		}
	}
	close(fd);
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	uint32_t n = 1000000;
	char dir[256] = "";
	bool keep = false, populate_only = false;
	int opt;

	while ((opt = getopt(argc, argv, "n:d:kPh")) != -1) {
		switch (opt) {
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 'k': keep = true; break;
		case 'P': populate_only = true; break;
		default:
			printf("usage: bench_control [-n BINDINGS] [-d STATE_DIR] [-k keep it]\n"
			       "       bench_control -P -n BINDINGS -d STATE_DIR   (only populate; tests)\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/sipreg-bench-control-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	double t0 = now_ms();
	if (populate(dir, n) != 0)
		return 1;
	fprintf(stderr, "populated %u bindings in %.0f ms (%s)\n", n, now_ms() - t0, dir);
	if (populate_only)
		return 0;

	struct control c;
	struct control_config cfg = { .state_dir = dir, .stats_dir = "/nonexistent",
				      .instance = "bench", .dataplane_socket = "/nonexistent",
				      .realm = "sipreg.test" };
	char err[512];
	if (control_open(&c, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_control: %s\n", err);
		return 1;
	}
	uint64_t bytes;
	const char *cidr = "{\"cmd\":\"list\",\"ip\":\"10.7.0.0/16\",\"limit\":100}";
	double first = run_list(&c, cidr, &bytes);   /* cold: maps the env */
	double best = first;
	for (int i = 0; i < 3; i++) {
		double t = run_list(&c, cidr, &bytes);
		if (t < best)
			best = t;
	}
	double sorted = run_list(&c, "{\"cmd\":\"list\",\"ip\":\"10.7.0.0/16\",\"sort\":\"user_agent\","
				    "\"desc\":true,\"limit\":100}", &bytes);
	double wildcard = run_list(&c, "{\"cmd\":\"list\",\"ip\":\"10.7.x.x\",\"ua\":\"Phone-3\"}", &bytes);
	double count = run_list(&c, "{\"cmd\":\"list\",\"count\":true}", &bytes);
	fprintf(stderr, "list first page, ip 10.7.0.0/16: cold %.1f ms, best of 3 %.1f ms; "
		"sorted by user_agent %.1f ms; wildcard %.1f ms; count all %.1f ms\n",
		first, best, sorted, wildcard, count);

	/* export: whole table as CSV, in the server's chunks, bytes dropped */
	const char *ex = "{\"cmd\":\"export\",\"format\":\"csv\"}";
	struct outbuf out = { 0 };
	struct admin_stream st = { 0 };
	uint64_t total_bytes = 0;
	t0 = now_ms();
	admin_handle_line(&c, ex, strlen(ex), NULL, &out, &st);
	while (st.active) {
		total_bytes += out.len;
		out.len = 0;
		admin_stream_next(&st, &out, 2048);
	}
	total_bytes += out.len;
	double export_ms = now_ms() - t0;
	uint64_t rows = st.ex.rows;
	outbuf_free(&out);
	double rps = rows / (export_ms / 1e3);
	fprintf(stderr, "export csv: %llu rows, %.1f MB in %.0f ms = %.0f rows/s\n",
		(unsigned long long)rows, total_bytes / 1e6, export_ms, rps);

	/* over the admin socket: the daemon's loop in a thread, a client here */
	char sock_path[300], serr[512];
	snprintf(sock_path, sizeof(sock_path), "%s/bench-control.sock", dir);
	int lfd = server_listen(sock_path, serr, sizeof(serr));
	if (lfd < 0) {
		fprintf(stderr, "bench_control: %s\n", serr);
		return 1;
	}
	struct server_arg sarg = { &c, lfd };
	pthread_t th;
	pthread_create(&th, NULL, server_thread, &sarg);
	uint64_t sbytes;
	double sock_list = socket_request(sock_path, cidr, false, &sbytes);
	for (int i = 0; i < 2; i++) {
		double t = socket_request(sock_path, cidr, false, &sbytes);
		if (t < sock_list)
			sock_list = t;
	}
	double sock_export_ms = socket_request(sock_path, ex, true, &sbytes);
	double sock_rps = rows / (sock_export_ms / 1e3);
	server_stop = 1;
	pthread_join(th, NULL);
	close(lfd);
	fprintf(stderr, "over the admin socket: list page %.1f ms; export csv %.1f MB in %.0f ms = "
		"%.0f rows/s\n", sock_list, sbytes / 1e6, sock_export_ms, sock_rps);
	control_close(&c);
	if (!keep) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_control: could not remove %s\n", dir);
	}
	printf("{\"bindings\":%u,\"list_page_ms\":%.1f,\"list_page_cold_ms\":%.1f,"
	       "\"list_sorted_ms\":%.1f,\"export_rows\":%llu,\"export_rows_per_s\":%.0f,"
	       "\"socket_list_page_ms\":%.1f,\"socket_export_rows_per_s\":%.0f}\n",
	       n, best, first, sorted, (unsigned long long)rows, rps, sock_list, sock_rps);
	return rows == n ? 0 : 1;
}
